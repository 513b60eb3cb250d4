"""`refbp fuzz`: hypothesis-drawn cases checked until a budget is spent; failures shrunk and saved."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from refbp import names
from refbp.parallel import executor_problem, parse_jobs, start_workers

from .ci_options import add_ci_options, finish_fuzz_ci
from .isolation import add_timeout_option, timeout_of
from .layer_option import add_layer_option, fuzz_layers_cli, given_problem
from .outcome import add_judging_options
from .pipe_option import PIPE_PREFIX, add_cmd_option, fuzz_over_pipe
from .usage import fail_usage, folder_problem

KINDS = ("mlp", "rnn", "all")
DEFAULT_EXAMPLES = 200  # refbp.fuzz.DEFAULT_EXAMPLES (not imported here: it loads hypothesis)

HELP = f"""\
Draw whole cases with hypothesis (refbp.testing.strategies: shapes, depths, activations,
losses with matching heads, batches, sequence lengths, truncation, h0, optimizers, step
counts, and values: ordinary, large, tiny, near a kink) and check each as `refbp run` does
(refbp against torch autograd and finite differences), or as `refbp check` does with --impl.

The same --seed draws the same examples (default 0: pass another seed to explore further).
A failing example is shrunk by hypothesis and, with --save-failures DIR, written as a
refbp-case/1 file (explicit numbers, the failing check in its title, the seed in its source)
that `refbp run FILE` (or `refbp check --impl ... FILE`) reproduces: move it into
cases/regressions/ to keep it. Prints what was tried (per kind, activation, loss, depth,
value range, optimizer) and examples per second. With --impl, a factory that names the
network kinds it supports (`factory.kinds = ("mlp",)`) gets only those drawn; it runs in a
worker process, never in refbp's: an example in which it exits (sys.exit, os._exit), raises
KeyboardInterrupt, crashes its process or overruns --timeout is a failed example with the
reason, and what it prints goes to stderr. With --cmd (a program over a pipe, docs/formats.md
section 11) the same, --dtype included; `--cmd ... --layer` (or --layer FILE.py) draws input sets
for each layer function instead (--examples per function, default 50; docs/layers.md).
A --save-failures folder that is a file, lies under one or cannot be written is refused
before any example is drawn; if writing fails later all the same, the failures are written
into a temporary folder instead, named on stderr (exit 2). Ctrl-C stops drawing: the
examples checked so far are summarised, their failures saved (as drawn, not shrunk) with
--save-failures, and it exits 130.
Exit codes: 0 no failure, 1 an example failed (or, with --strict, was inconclusive), 2 bad
usage (or every example declined, or the failures could not be saved where asked), 130 Ctrl-C.
Default budget: {DEFAULT_EXAMPLES} examples.
"""


def register(sub):
    p = sub.add_parser(
        "fuzz",
        help="check hypothesis-drawn cases; shrink and save failures",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--kind", choices=KINDS, default="all", help="networks to draw (default: all)")
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--examples", type=int, metavar="N", help=f"examples to check (default {DEFAULT_EXAMPLES})")
    budget.add_argument("--minutes", type=float, metavar="M", help="check examples for M minutes instead")
    p.add_argument("--seed", type=int, default=0, help="the seed of the examples drawn, 0 or more (default 0)")
    p.add_argument("--dtype", choices=names.DTYPES, default="float64", help="the cases' dtype (default float64)")
    # At most one of --impl, --cmd, --layer FILE (given_problem); --layer without a FILE goes with --cmd.
    p.add_argument(
        "--impl",
        metavar="MODULE:FACTORY",
        help="check this implementation (adapter protocol, as `refbp check`) instead of refbp",
    )
    add_cmd_option(p)  # any language, over a pipe
    add_layer_option(p)  # a layers module's declared functions (or a --cmd's layers), their inputs drawn
    p.add_argument("--fd-method", choices=tuple(names.FD_METHODS), help="finite differences (default: as run/check)")
    narrow = p.add_argument_group(
        "narrowing the draw further (within the factory's `capabilities`, docs/formats.md section 8)"
    )
    narrow.add_argument("--activations", metavar="LIST", help="only these activations, e.g. sigmoid,tanh")
    narrow.add_argument("--losses", metavar="LIST", help="only these losses, e.g. half_sse,mse")
    narrow.add_argument("--optimizers", metavar="LIST", help="only these optimizers (none: no training)")
    narrow.add_argument(
        "--bias", choices=("with", "without", "either"), help="networks with biases, without, or either"
    )
    narrow.add_argument("--batch", metavar="MOST|LEAST-MOST", help="batch sizes, e.g. 1 or 2-8")
    p.add_argument(
        "--save-failures", metavar="DIR", type=Path, help="write each shrunk failure into DIR as a refbp-case/1 file"
    )
    p.add_argument(
        "--max-saved",
        type=int,
        default=3,
        metavar="K",
        help="keep at most K failures, the first of each distinct failing check (default 3)",
    )
    p.add_argument(
        "--no-shrink",
        action="store_true",
        help="keep failures as drawn, without shrinking them (shrinking calls the implementation hundreds of "
        "times per failure: minutes where a call is slow)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument(
        "--jobs",
        default="1",
        metavar="N",
        help="check the examples in N local worker processes (auto: one per core; default 1); the same "
        "examples and findings as with 1, in the same order",
    )
    p.add_argument("--executor", metavar="dask://HOST:PORT", help="check the examples on this Dask cluster instead")
    add_judging_options(p)
    add_timeout_option(p)
    add_ci_options(p, xfails=False)  # drawn cases have no fixed ids to expect failures of
    p.set_defaults(handler=handle)


def handle(args) -> int:
    from refbp.check.adapter import AdapterError
    from refbp.check.impl_facts import implementation_facts

    if args.examples is not None and args.examples < 1:
        return fail_usage(f"--examples {args.examples}: must be at least 1")
    if args.minutes is not None and not args.minutes > 0:
        return fail_usage(f"--minutes {args.minutes}: must be more than 0")
    if args.max_saved < 0:
        return fail_usage(f"--max-saved {args.max_saved}: must be 0 or more")
    if args.seed < 0:
        return fail_usage(f"--seed {args.seed}: must be 0 or more")
    problem = folder_problem("--save-failures", args.save_failures) if args.save_failures is not None else ""
    if problem:  # before any example is drawn: a folder that cannot take the failures is known now
        return fail_usage(problem)
    if given_problem(args, required=False):
        return fail_usage(given_problem(args, required=False))
    if args.layer:
        return fuzz_layers_cli(args)
    if args.cmd is not None:  # started once here, then checked as the adapter cmd:COMMAND in this process
        return fuzz_over_pipe(args, handle)
    try:
        jobs = parse_jobs(args.jobs)
        # The implementation runs in guarded workers; a command over a pipe is timed per request by refbp.pipe.
        timeout = timeout_of(args) if args.impl and not args.impl.startswith(PIPE_PREFIX) else None
    except ValueError as exc:
        return fail_usage(str(exc))
    if executor_problem(args.executor):
        return fail_usage(executor_problem(args.executor))
    # They import torch while hypothesis loads here.
    start_workers(jobs, args.executor, preload=("refbp.fuzz.spread",), guarded=timeout is not None)
    factory = None
    if args.impl:
        try:
            factory = implementation_facts(args.impl, timeout)  # imported in a guarded worker, not here
        except AdapterError as exc:
            return fail_usage(str(exc))
    try:
        from refbp.fuzz import FuzzOptions, run_fuzz, summary_lines
        from refbp.fuzz.capabilities import CapabilityError, from_options
        from refbp.fuzz.kinds import NoSupportedKind, space_to_draw
    except ImportError as exc:  # hypothesis is the `fuzz` extra
        return fail_usage(str(exc))
    try:
        narrow = from_options(args.activations, args.losses, args.optimizers, args.bias, args.batch)
        space_to_draw(args.kind, factory, args.impl or "refbp", args.dtype, narrow)
    except (NoSupportedKind, CapabilityError) as exc:
        return fail_usage(str(exc))
    examples = args.examples if args.examples is not None or args.minutes is not None else DEFAULT_EXAMPLES
    options = FuzzOptions(
        kind=args.kind,
        examples=examples,
        minutes=args.minutes,
        seed=args.seed,
        dtype=args.dtype,
        impl=args.impl,
        fd_method=args.fd_method,
        conventions=args.conventions,
        strict=args.strict,
        save_failures=args.save_failures,
        max_saved=args.max_saved,
        shrink=not args.no_shrink,
        progress=False if args.no_progress else None,
        jobs=jobs,
        executor=args.executor,
        timeout=timeout,
        narrow=narrow,
    )
    run = run_fuzz(options)
    print("\n".join(summary_lines(run)))
    if run.interrupted:
        print(f"refbp: note: {run.interrupted}", file=sys.stderr)
    if run.save_problem:
        print(f"refbp: error: {run.save_problem}", file=sys.stderr)
    if not run.checked and not run.interrupted:
        print(
            f"refbp: error: nothing to check: {args.impl or 'the implementation'} supports none of the "
            f"{len(run.outcomes)} examples",
            file=sys.stderr,
        )
    return finish_fuzz_ci(run, args, run.exit_code())
