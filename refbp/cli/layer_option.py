"""`--layer FILE.py[:NAME]` of `refbp check` and `refbp fuzz`: one forward/backward pair per
declared function, checked against torch autograd and finite differences of its own forward
(refbp.layer; docs/layers.md), the user's layers in guarded workers (refbp.layer.guarded), each
call limited to --timeout; on the library of input sets, or on the layer cases (refbp-layer-case/1,
docs/formats.md section 12) under the PATHs given. With --cmd, `--layer` alone checks the layers
the command's hello lists (refbp.cli.pipe_option). The CLI only parses; refbp.layer does the work."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .isolation import timeout_of
from .outcome import AFTER_THE_RUN, finish
from .usage import fail_usage

LAYER_HELP = (
    "check a layers module from its declaration (default name REFBP_LAYERS: presets cs231n, numpy-ml, "
    "nnfs, object; docs/layers.md), instead of a whole network: on its library of input sets, or on the "
    "layer cases under the PATHs given; with --cmd and no FILE: the layers the command's hello lists"
)
WHOLE_NETWORKS = "this run checks layers (--layer): whole networks are checked with --impl or --cmd"


def add_layer_option(parser) -> None:
    parser.add_argument("--layer", metavar="FILE.py[:NAME]", nargs="?", const="", help=LAYER_HELP)


def given_problem(args, required: bool = True) -> str:
    """Why the implementation options cannot be used together ("" when they can): one of --impl,
    --cmd, --layer FILE; `--layer` without a FILE goes with --cmd only. With --cmd, what follows
    `--layer` is a PATH when it is a case file or folder (`--cmd ./mlp --layer cases/layers`): it is
    moved to the paths here."""
    impl, cmd, layer = getattr(args, "impl", None), getattr(args, "cmd", None), getattr(args, "layer", None)
    if cmd and layer and hasattr(args, "paths") and (layer.endswith(".json") or Path(layer).is_dir()):
        args.paths, args.layer, layer = [layer, *args.paths], "", ""
    if layer and (impl or cmd):
        return (
            f"--layer {layer}: a layers module is checked alone (with --cmd, --layer takes no FILE: the "
            f"command's own layers)"
        )
    if layer == "" and not cmd:
        return "--layer needs FILE.py[:NAME] (without a FILE it goes with --cmd: the layers its hello lists)"
    if impl and cmd:
        return "--impl and --cmd are alternatives: one implementation at a time"
    if required and not (impl or cmd or layer):
        return "one of --impl MODULE:FACTORY, --cmd 'COMMAND ARGS' or --layer FILE.py[:NAME] is required"
    return ""


def dtype_problem(args) -> str:
    dtype = getattr(args, "dtype", None)
    if dtype not in (None, "float64"):
        return f"--dtype {dtype}: the layer checks are in float64 only (--dtype applies to whole networks)"
    return ""


def _functions(args):
    """(timeout, the declared functions) or an exit code: a declaration that cannot be used is a
    usage error (exit 2), found in a guarded worker before any check."""
    from refbp.layer.guarded import declared_functions
    from refbp.parallel import start_workers
    from refbp.parallel.guarded import run_guarded
    from refbp.parallel.units import UnitFailed

    try:
        timeout = timeout_of(args)
    except ValueError as exc:
        return fail_usage(str(exc))
    if dtype_problem(args):
        return fail_usage(dtype_problem(args))
    start_workers(1, None, meanwhile=AFTER_THE_RUN, guarded=True)
    found = run_guarded(declared_functions, args.layer, timeout)
    if isinstance(found, UnitFailed):
        return fail_usage(f"--layer {args.layer}: {found.reason}")
    functions, problem = found
    return fail_usage(problem) if problem else (timeout, functions)


def layer_run(name: str):
    """An empty run of layer checks, to which verdicts are added."""
    from refbp.check.suite import SuiteRun

    return SuiteRun(
        started=datetime.now(timezone.utc).isoformat(timespec="seconds"), oracles=("torch", "fd"), implementation=name
    )


def check_layers_cli(args) -> int:
    """`refbp check --layer FILE`: the library of input sets, or the layer cases under the PATHs."""
    from refbp.layer.cases import find_layer_cases, not_checked_note
    from refbp.layer.guarded import check_cases_function, check_function, crashed
    from refbp.parallel.guarded import iter_guarded
    from refbp.parallel.units import UnitFailed

    found = _functions(args)
    if isinstance(found, int):
        return found
    timeout, functions = found
    name = args.name or args.layer
    start = time.perf_counter()
    run = layer_run(name)
    if args.paths:
        cases = find_layer_cases(args.paths)
        run.verdicts += cases.bad
        documents = {f: [(c.document, str(c.path or "")) for c in cases.cases if c.function == f] for f in functions}
        units: list[tuple[Any, ...]] = [
            (args.layer, index, name, documents[f]) for index, f in enumerate(functions) if documents[f]
        ]
        work = check_cases_function
        left = [c for c in cases.cases if c.function not in functions]
        if left:
            run.notes.append(not_checked_note(left, f"{args.layer} declares no such function"))
        if cases.others:
            run.notes.append(f"{cases.others} whole-network case(s) not checked: {WHOLE_NETWORKS}")
        if not units and not cases.bad:
            return _nothing(run, f"no layer case of a function {args.layer} declares in {', '.join(args.paths)}")
    else:
        units, work = [(args.layer, index, name) for index in range(len(functions))], check_function
    for index, result in iter_guarded(work, units, timeout=timeout):
        function = units[index][1]
        run.verdicts += (
            [crashed(functions[function], name, result.reason)] if isinstance(result, UnitFailed) else result
        )
    run.seconds = time.perf_counter() - start
    return finish(required(run, args), args, "check")


def required(run, args):
    """The run with `--require all` applied (a PARTIAL case fails: refbp.check.provided)."""
    if getattr(args, "require", "given") == "all":
        from refbp.check.provided import require_all

        run.verdicts = [require_all(v) for v in run.verdicts]
    return run


def _nothing(run, why: str) -> int:
    import sys

    for note in run.notes:
        print(f"refbp: note: {note}", file=sys.stderr)
    return fail_usage(f"nothing to check: {why}")


def fuzz_layers_cli(args) -> int:
    """`refbp fuzz --layer SPEC`: --examples input sets per declared function (default 50), drawn from
    --seed; exit 1 when one failed (each named with its diagnosis), 2 on a bad declaration."""
    from refbp.layer.guarded import fuzz_function
    from refbp.parallel.guarded import iter_guarded
    from refbp.parallel.units import UnitFailed

    if args.minutes is not None:
        return fail_usage("--layer takes --examples (input sets per function), not --minutes")
    found = _functions(args)
    if isinstance(found, int):
        return found
    timeout, functions = found
    start = time.perf_counter()
    units = [(args.layer, index, args.layer, args.examples or 50, args.seed) for index in range(len(functions))]
    results = [
        (functions[index], result.reason if isinstance(result, UnitFailed) else result)
        for index, result in iter_guarded(fuzz_function, units, timeout=timeout)
    ]
    return fuzz_summary(results, args, time.perf_counter() - start)


def fuzz_summary(results: list, args, seconds: float) -> int:
    """Print what `fuzz --layer` found: `results` holds (function, its LayerFuzz or why it could
    not be checked); exit 1 when an input set failed, or (--strict) was inconclusive."""
    from refbp.report.console import format_failures

    checked, inconclusive = 0, 0
    failed: list[Any] = []
    lost: list[Any] = []
    for function, result in results:
        if isinstance(result, str):
            lost.append(f"  layer:{function}: could not be checked: {result}")
            continue
        checked, failed, inconclusive = (
            checked + result.examples,
            failed + result.failed,
            inconclusive + result.inconclusive,
        )
    print(
        f"refbp fuzz --layer: {checked} input sets checked ({len(results)} functions, seed {args.seed}) in "
        f"{seconds:.1f} s; {len(failed) + len(lost)} failed"
        + (f", {inconclusive} inconclusive" if inconclusive else "")
    )
    if lost:
        print("\n".join(lost))
    for verdict in failed[:10]:
        print("\n".join(format_failures(verdict, limit=2)))
    if failed and getattr(args, "save_failures", None) is not None:
        from refbp.layer.save import save_failures

        inputs = [item for _, result in results if not isinstance(result, str) for item in result.failed_inputs]
        command = (
            f"refbp fuzz {'--cmd ' + repr(args.cmd) + ' --layer' if args.cmd else '--layer ' + args.layer} "
            f"--examples {args.examples or 50} --seed {args.seed}"
        )
        for path in save_failures(inputs, failed, args.save_failures, args.max_saved, command):
            print(f"saved {path} (refbp-layer-case/1: `refbp check --layer ... {path}` checks it again)")
    return 1 if failed or lost or (args.strict and inconclusive) else 0


def layer_cases_note(paths, why: str) -> tuple[int, str]:
    """(how many layer cases lie under `paths`, one line saying that this run does not check them)."""
    from refbp.layer.cases import count_layer_cases

    count = count_layer_cases(paths)
    return count, (f"{count} layer case(s) (refbp-layer-case/1) not checked: {why}" if count else "")
