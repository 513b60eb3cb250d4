"""`--layer FILE.py[:NAME]` of `refbp check` and `refbp fuzz`: one forward/backward pair per
declared function, checked against torch autograd and finite differences of its own forward
(refbp.layer; docs/layers.md), the user's layers in guarded workers (refbp.layer.guarded), each
call limited to --timeout. The CLI only parses; refbp.layer does the work."""

from __future__ import annotations

import time
from datetime import datetime, timezone

from .isolation import timeout_of
from .outcome import AFTER_THE_RUN, finish
from .usage import fail_usage

LAYER_HELP = ("check a layers module from its declaration (default name REFBP_LAYERS: presets cs231n, numpy-ml, "
              "nnfs, object; docs/layers.md), instead of a whole network")


def add_layer_option(group) -> None:
    group.add_argument("--layer", metavar="FILE.py[:NAME]", help=LAYER_HELP)


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
    start_workers(1, None, meanwhile=AFTER_THE_RUN, guarded=True)
    found = run_guarded(declared_functions, args.layer, timeout)
    if isinstance(found, UnitFailed):
        return fail_usage(f"--layer {args.layer}: {found.reason}")
    functions, problem = found
    return fail_usage(problem) if problem else (timeout, functions)


def check_layers_cli(args) -> int:
    from refbp.check.suite import SuiteRun
    from refbp.layer.guarded import check_function, crashed
    from refbp.parallel.guarded import iter_guarded
    from refbp.parallel.units import UnitFailed

    found = _functions(args)
    if isinstance(found, int):
        return found
    timeout, functions = found
    name = args.name or args.layer
    start = time.perf_counter()
    run = SuiteRun(started=datetime.now(timezone.utc).isoformat(timespec="seconds"), oracles=("torch", "fd"),
                   implementation=name)
    units = [(args.layer, index, name) for index in range(len(functions))]
    for index, result in iter_guarded(check_function, units, timeout=timeout):
        run.verdicts += [crashed(functions[index], name, result.reason)] if isinstance(result, UnitFailed) else result
    run.seconds = time.perf_counter() - start
    return finish(run, args, "check")


def fuzz_layers_cli(args) -> int:
    """`refbp fuzz --layer SPEC`: --examples input sets per declared function (default 50), drawn from
    --seed; exit 1 when one failed (each named with its diagnosis), 2 on a bad declaration."""
    from refbp.layer.guarded import fuzz_function
    from refbp.parallel.guarded import iter_guarded
    from refbp.parallel.units import UnitFailed
    from refbp.report.console import format_failures

    if args.minutes is not None:
        return fail_usage("--layer takes --examples (input sets per function), not --minutes")
    found = _functions(args)
    if isinstance(found, int):
        return found
    timeout, functions = found
    start = time.perf_counter()
    units = [(args.layer, index, args.layer, args.examples or 50, args.seed) for index in range(len(functions))]
    checked, failed, inconclusive, lost = 0, [], 0, []
    for index, result in iter_guarded(fuzz_function, units, timeout=timeout):
        if isinstance(result, UnitFailed):
            lost.append(f"  layer:{functions[index]}: could not be checked: {result.reason}")
            continue
        checked, failed, inconclusive = checked + result.examples, failed + result.failed, inconclusive + result.inconclusive
    print(f"refbp fuzz --layer: {checked} input sets checked ({len(functions)} functions, seed {args.seed}) in "
          f"{time.perf_counter() - start:.1f} s; {len(failed) + len(lost)} failed"
          + (f", {inconclusive} inconclusive" if inconclusive else ""))
    if lost:
        print("\n".join(lost))
    for verdict in failed[:10]:
        print("\n".join(format_failures(verdict, limit=2)))
    return 1 if failed or lost or (args.strict and inconclusive) else 0
