"""`refbp run`: the conformance suite."""

from __future__ import annotations

import argparse

from refbp import names

from .ci_options import add_ci_options, finish_ci
from .layer_option import layer_cases_note
from .outcome import add_common_options, any_order, finish, run_settings
from .usage import fail_usage

HELP = """\
Run every case (default: the installed suite, all of cases/) through refbp's hand-written
backprop and compare with the references: outputs, loss, each layer's net/out, every
gradient, the parameters and loss after training, and the case's published values.

Prints a table (on stderr with --json), writes reports/<run-id>/ (details.csv,
summary.csv, summary.md, report.html, errors.png, verdicts.json, environment.json).
A bad case file is reported on stderr in one line naming its file, field and problem, and
the other cases still run. A case found twice with the same content (an exported copy
beside its source) is checked once, with a note. Options and paths go in any order.
Exit codes: 0 all passed, 1 a check failed, 2 bad input or usage (a case could not be
loaded, no case found, no chosen reference applies to a case). An inconclusive case (an
entry no reference could judge to the accuracy needed) is never counted as passed; it exits
0 unless --strict (then 1). Ctrl-C reports the verdicts of the cases checked so far (the
report's headline and environment.json say "interrupted"; the run is not kept in the verdict
store) and exits 130. The formats: docs/formats.md.
"""


FD_METHODS = tuple(names.FD_METHODS)
FD_HELP = (
    "finite differences: central (O(h^2), 2 evaluations per entry), richardson (6 per entry, O(h^6) with an "
    "error estimate), complex (complex step, machine precision; only for networks whose every function is "
    "analytic, refused otherwise), directional (4 random directions, 2 evaluations each, against "
    "<grad, u>), sampled (central on 8 random entries per tensor and every bias entry). Default, per case: "
    "complex step when every function of the network is analytic (identity, sigmoid, tanh, softplus, "
    "softmax; refbp's MLPs), otherwise central differences"
)


def register(sub):
    p = any_order(
        sub.add_parser(
            "run",
            help="run the conformance suite (or the given cases)",
            description=HELP,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
    )
    p.add_argument("paths", nargs="*", metavar="PATH", help="case files or folders (default: the installed suite)")
    add_common_options(p, FD_HELP, FD_METHODS)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument(
        "--device",
        choices=("cpu", "cuda", "auto"),
        help="run refbp on torch tensors on this device (auto: cuda when available, else cpu); "
        "default: numpy arrays. The references stay float64 on the CPU",
    )
    add_ci_options(p)
    p.set_defaults(handler=handle)


def handle(args) -> int:
    from refbp.check import run_suite
    from refbp.check.units import CheckWith

    try:
        oracles, jobs, executor = run_settings(args)
    except ValueError as exc:
        return fail_usage(str(exc))
    check_with, device_environment = CheckWith(conventions=args.conventions), None
    if args.device:
        from refbp.devices import DeviceError, resolve_device

        try:
            device = resolve_device(args.device)
        except DeviceError as exc:
            return fail_usage(str(exc))
        check_with = CheckWith(backend="torch", device=device, conventions=args.conventions)
        device_environment = {"device": device, "backend": "torch"}
    missing = [p for p in args.paths if not _exists(p)]
    if missing and len(missing) == len(args.paths):
        return fail_usage(f"no such file or folder: {', '.join(missing)}")
    layers, note = layer_cases_note(
        args.paths,
        "`refbp run` checks refbp's whole networks; layer cases check a "
        "layers module (`refbp check --layer FILE.py`), a program "
        "(`--cmd`) or results (`refbp verify`)",
    )
    run = run_suite(
        args.paths or None,
        oracles=oracles,
        progress=False if args.no_progress else None,
        check_with=check_with,
        fd_method=args.fd_method,
        jobs=jobs,
        executor=executor,
        keep_interrupted=True,
    )
    if note:
        run.notes.append(note)
    if layers and not run.verdicts and not run.interrupted:
        return fail_usage(f"nothing to check: {note}")
    return finish_ci(run, args, "run", lambda run: finish(run, args, "run", device_environment))


def _exists(path: str) -> bool:
    from pathlib import Path

    return Path(path).exists()
