"""`--layer FILE.py[:NAME]` of `refbp check`: one forward/backward pair per declared function,
checked against torch autograd and finite differences of its own forward (refbp.layer;
docs/layers.md). The CLI only parses; refbp.layer does the work."""

from __future__ import annotations

import time
from datetime import datetime, timezone

from .outcome import finish
from .usage import fail_usage

LAYER_HELP = ("check a layers module from its declaration (default name REFBP_LAYERS: presets cs231n, numpy-ml, "
              "nnfs, object; docs/layers.md), instead of a whole network")


def add_layer_option(group) -> None:
    group.add_argument("--layer", metavar="FILE.py[:NAME]", help=LAYER_HELP)


def check_layers_cli(args) -> int:
    from refbp.check.suite import SuiteRun
    from refbp.layer import DeclarationError, check_layers, load_declaration

    try:
        bound = load_declaration(args.layer)
    except DeclarationError as exc:
        return fail_usage(str(exc))
    name = args.name or args.layer
    start = time.perf_counter()
    run = SuiteRun(started=datetime.now(timezone.utc).isoformat(timespec="seconds"), oracles=("torch", "fd"),
                   implementation=name)
    run.verdicts = check_layers(bound, name)
    run.seconds = time.perf_counter() - start
    return finish(run, args, "check")


def fuzz_layers_cli(args) -> int:
    """`refbp fuzz --layer SPEC`: --examples input sets per declared function (default 50), drawn from
    --seed; exit 1 when one failed (each named with its diagnosis), 2 on a bad declaration."""
    from refbp.layer import DeclarationError, load_declaration
    from refbp.layer.draw import fuzz_layers
    from refbp.report.console import format_failures

    try:
        bound = load_declaration(args.layer)
    except DeclarationError as exc:
        return fail_usage(str(exc))
    if args.minutes is not None:
        return fail_usage("--layer takes --examples (input sets per function), not --minutes")
    start = time.perf_counter()
    found = fuzz_layers(bound, args.layer, examples=args.examples or 50, fuzz_seed=args.seed)
    print(f"refbp fuzz --layer: {found.examples} input sets checked ({len(bound)} functions, seed {args.seed}) in "
          f"{time.perf_counter() - start:.1f} s; {len(found.failed)} failed"
          + (f", {found.inconclusive} inconclusive" if found.inconclusive else ""))
    for verdict in found.failed[:10]:
        print("\n".join(format_failures(verdict, limit=2)))
    return 1 if found.failed or (args.strict and found.inconclusive) else 0
