"""`refbp check --impl MODULE:FACTORY`: the suite on a Python implementation, in a guarded worker process."""

from __future__ import annotations

import argparse

from ..names import DTYPES
from .ci_options import add_ci_options, finish_ci
from .isolation import ISOLATION_NOTE, add_timeout_option, timeout_of
from .layer_option import add_layer_option, check_layers_cli, given_problem, layer_cases_note
from .outcome import AFTER_THE_RUN, add_common_options, any_order, finish, run_settings
from .pipe_option import CMD_NOTE, add_cmd_option, check_over_pipe
from .run_cmd import FD_METHODS
from .usage import fail_usage

HELP = (
    """\
Run the suite on YOUR backprop, through the adapter protocol
(docs/formats.md): with --impl, FACTORY(case) returns an object with forward(params, inputs),
loss(params, inputs, targets), gradients(params, inputs, targets) and, optionally,
train(params, inputs, targets), or None for a case it does not support.

Everything it gives is compared with torch autograd in float64, with finite differences
of the torch loss, with the case's published values, and with finite differences of its
OWN loss (reference own-forward-fd): a gradient that matches its own forward but not torch
means the forward is wrong too. Declined cases are listed as not supported, never passed;
an implementation that raises fails that case and the others go on.
Exit codes: 0 all checked cases passed, 1 a check failed, 2 bad input or nothing checked; an
inconclusive case exits 0 unless --strict (then 1), and is never counted as passed.
Ctrl-C reports the verdicts of the cases checked so far (the report's environment.json says
"interrupted"; the run is not kept in the verdict store) and exits 130.

"""
    + ISOLATION_NOTE
    + "\n"
    + CMD_NOTE
    + "\n"
)


def register(sub):
    p = any_order(
        sub.add_parser(
            "check",
            help="run the suite on a Python implementation (adapter protocol)",
            description=HELP,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
    )
    p.add_argument("paths", nargs="*", metavar="PATH", help="case files or folders (default: the installed suite)")
    # One of --impl, --cmd, --layer FILE (given_problem); --layer without a FILE goes with --cmd.
    p.add_argument("--impl", metavar="MODULE:FACTORY", help="package.module:factory, or path/to/file.py:factory")
    add_cmd_option(p)  # any language, over a pipe
    add_layer_option(p)  # one layer's forward/backward pairs, from a declaration (refbp.layer)
    p.add_argument("--name", help="the implementation's name in reports (default: the --impl text)")
    p.add_argument(
        "--dtype",
        choices=DTYPES,
        help="compute and judge every case at this dtype, its numbers rounded "
        "to it (float16, bfloat16: against torch's own error there, "
        "docs/precision.md; default: each case's own)",
    )
    p.add_argument(
        "--require",
        choices=("given", "all"),
        default="given",
        help="given (default): judge what the implementation gives, a case without some of what it asks "
        "is PARTIAL; all: a quantity or tensor not provided fails its case",
    )
    add_common_options(
        p,
        "how finite differences are computed, of the torch loss and of the implementation's "
        "own loss (default: central differences)",
        FD_METHODS,
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_timeout_option(p)
    add_ci_options(p)
    p.set_defaults(handler=handle)


def handle(args) -> int:
    from refbp.check import run_suite
    from refbp.check.adapter import AdapterError
    from refbp.check.impl_facts import implementation_facts
    from refbp.check.units import CheckWith, shippable_spec
    from refbp.parallel import start_workers

    if given_problem(args):
        return fail_usage(given_problem(args))
    if args.cmd is not None:
        return check_over_pipe(args)
    if args.layer is not None:
        return check_layers_cli(args)
    name = args.name or args.impl
    layers, note = layer_cases_note(
        args.paths, "--impl checks whole networks (a layers module: --layer FILE.py; a program's layers: --cmd)"
    )
    try:
        oracles, jobs, executor = run_settings(args)
        timeout = timeout_of(args)
        start_workers(jobs, None, meanwhile=AFTER_THE_RUN, guarded=True)  # the guarded workers' fork server
        # Here first, in a guarded worker: a wrong --impl is a usage error before any work.
        facts = implementation_facts(args.impl, timeout)
    except (ValueError, AdapterError) as exc:
        return fail_usage(str(exc))
    # The workers import the implementation again, from the same file wherever they run.
    check_with = CheckWith(
        impl=shippable_spec(args.impl), name=name, conventions=args.conventions, dtype=args.dtype or ""
    )
    run = run_suite(
        args.paths or None,
        oracles=oracles,
        progress=False if args.no_progress else None,
        check_with=check_with,
        fd_method=args.fd_method,
        jobs=jobs,
        executor=executor,
        timeout=timeout,
        keep_interrupted=True,
    )
    run.implementation = name
    if note:
        run.notes.append(note)
    if layers and not run.verdicts and not run.interrupted:
        return fail_usage(f"nothing to check: {note}")
    if args.require == "all":  # a PARTIAL case fails (refbp.check.provided)
        from refbp.check.provided import require_all

        run.verdicts = [require_all(v) for v in run.verdicts]
    marked = ({"interrupted": run.notes[-1]},) if run.interrupted else ()  # into the report's environment.json
    return finish_ci(
        run, args, "check", lambda run: finish(run, args, "check", *marked, implementation_version=facts.version)
    )
