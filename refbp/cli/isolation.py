"""`--timeout` of `check` and `fuzz`: how long one call into the user's implementation may take.
The implementation runs in guarded worker processes (refbp.parallel.guarded), never in refbp's."""

from __future__ import annotations

import math

from refbp.parallel.guarded import DEFAULT_TIMEOUT

TIMEOUT_HELP = (
    f"the longest one call into the implementation (its import, factory, forward, loss, gradients, "
    f"train, ...) may take, in seconds (default {DEFAULT_TIMEOUT:g}); a call that takes longer is "
    f"stopped and fails its case, and the run goes on"
)

ISOLATION_NOTE = """\
The implementation runs in a worker process (one per job, even without --jobs), never in
refbp's: a case in which it exits (sys.exit, os._exit), raises KeyboardInterrupt, crashes its
process or overruns --timeout fails, with an error naming the case and the call, and the
other cases go on; what it prints goes to stderr (stdout stays refbp's, e.g. --json's)."""


def add_timeout_option(parser) -> None:
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS", help=TIMEOUT_HELP)


def timeout_of(args) -> float:
    """--timeout, or ValueError (a usage error) when it is not a positive number of seconds."""
    if not (math.isfinite(args.timeout) and args.timeout > 0):
        raise ValueError(f"--timeout {args.timeout:g}: must be a positive number of seconds")
    return float(args.timeout)
