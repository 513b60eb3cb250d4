"""`--cmd "COMMAND ARGS"` of `refbp check` and `refbp fuzz`: an implementation in any language,
started once and spoken to in JSON lines (refbp.pipe; docs/formats.md section 11). The checks are
those of `--impl`: the command's factory is the adapter `cmd:COMMAND` (refbp.check.adapter)."""

from __future__ import annotations

import time

from refbp.parallel import parse_jobs
from refbp.pipe.factory import PIPE_PREFIX

from .isolation import timeout_of
from .usage import fail_usage

CMD_HELP = (
    "a program in any language, started once and asked in JSON lines on its stdin and stdout "
    "(protocol refbp-pipe/1, docs/formats.md section 11); its stderr passes through; each request "
    "limited to --timeout"
)
CMD_NOTE = """\
With --cmd the program runs in a process of its own, started once: a request it does not answer
within --timeout, an exit, a line that is not its answer (not JSON, another id, a partial line)
or a flood of its stdout ends the run with one line naming the case and the problem (exit 2); an
`error` message fails that case only; an answer with NaN or a wrong shape is a failed check. It
is stopped at the end and on Ctrl-C (stdin closed, then SIGTERM, then SIGKILL). --dtype and
--require work with --cmd as with --impl. The layer cases among the PATHs (refbp-layer-case/1) are
checked on the layers its hello lists; `--cmd ... --layer` checks its layers only (with no PATH, on
refbp's library of input sets); a command whose hello lists no layers leaves the layer cases
unchecked with one note (exit 2 when nothing else was asked: docs/formats.md sections 11, 12)."""


def add_cmd_option(group) -> None:
    group.add_argument("--cmd", metavar="'COMMAND ARGS'", help=CMD_HELP)


def pipe_problem(args) -> str:
    """Why --cmd cannot be used with the other options ("" when it can), before any work."""
    try:
        jobs = parse_jobs(args.jobs)
    except ValueError as exc:
        return str(exc)
    if jobs > 1 or getattr(args, "executor", None):
        return (
            "--cmd: the command is started once and asked one request at a time: --jobs and --executor are not for it"
        )
    return ""


def start_pipe(args):
    """The command started and its hello read: (factory, None), or (None, exit code 2) after one line."""
    from refbp.pipe import PipeBroken, start

    try:
        return start(args.cmd, timeout_of(args)), None
    except ValueError as exc:
        return None, fail_usage(str(exc))
    except PipeBroken as exc:
        return None, fail_usage(str(exc))


def check_over_pipe(args) -> int:
    """`refbp check --cmd`: the suite, as `--impl` checks it (at --dtype), on the command's answers,
    and the layer cases on the layers its hello lists; with `--layer` (no FILE) its layers only."""
    from refbp.check import run_suite
    from refbp.check.units import CheckWith
    from refbp.pipe import PipeBroken, close_all

    from .ci_options import finish_ci
    from .layer_option import dtype_problem, layer_run, required
    from .outcome import finish, run_settings

    layers_only = args.layer == ""
    problem = pipe_problem(args) or (dtype_problem(args) if layers_only else "")
    if problem:
        return fail_usage(problem)
    try:
        oracles = run_settings(args)[0]
    except ValueError as exc:
        return fail_usage(str(exc))
    factory, code = start_pipe(args)
    if factory is None:
        return code
    name = args.name or factory.name
    if layers_only and not factory.hello.layers:
        close_all()
        return fail_usage(f"--cmd {args.cmd!r}: {NO_LAYERS}")
    start = time.perf_counter()
    try:
        if layers_only:
            run = layer_run(name)
        else:
            run = run_suite(
                args.paths or None,
                oracles=oracles,
                progress=False if args.no_progress else None,
                check_with=CheckWith(
                    impl=PIPE_PREFIX + args.cmd, name=name, conventions=args.conventions, dtype=args.dtype or ""
                ),
                fd_method=args.fd_method,
                keep_interrupted=True,
            )
        if not run.interrupted:
            before = time.perf_counter()
            _layers_over_pipe(run, factory, args, name)
            run.seconds = (run.seconds or 0.0) + time.perf_counter() - (start if layers_only else before)
    except PipeBroken as exc:
        return fail_usage(str(exc))
    finally:
        close_all()
    run.implementation = name
    if not run.verdicts and run.notes and not run.interrupted:
        return _nothing(run)
    marked = ({"interrupted": run.notes[-1]},) if run.interrupted else ()
    return finish_ci(
        required(run, args),
        args,
        "check",
        lambda run: finish(run, args, "check", *marked, implementation_version=factory.__version__),
    )


NO_LAYERS = (
    "its hello lists no `layers`: it answers no layer requests (docs/formats.md section 12); "
    "without --layer, the whole-network cases are checked and the layer cases skipped"
)


def _layers_over_pipe(run, factory, args, name: str) -> None:
    """The command's layers checked on the layer cases under the PATHs (or, with `--layer` and no
    PATH, on refbp.layer's library of input sets), the verdicts added to `run`; the layer cases
    it cannot answer (its hello lists no such function, or --dtype asks for another dtype) are one
    note, never failures. Ctrl-C keeps the verdicts so far (`run.interrupted`)."""
    from refbp.layer.cases import check_layer_case, find_layer_cases, not_checked_note
    from refbp.layer.check import check_layers
    from refbp.layer.over_pipe import pipe_layers

    bound = pipe_layers(factory)
    try:
        if args.layer == "" and not args.paths:
            run.verdicts += check_layers(bound, name)
            return
        found = find_layer_cases(args.paths or None)
        run.verdicts += found.bad
        if args.layer == "" and found.others:
            run.notes.append(
                f"{found.others} whole-network case(s) not checked: --layer checks the command's layers only"
            )
        if not found.cases:
            return
        if args.dtype not in (None, "float64"):
            run.notes.append(
                not_checked_note(found.cases, f"the layer checks are in float64 only (--dtype {args.dtype})")
            )
            return
        if not bound:
            run.notes.append(not_checked_note(found.cases, f"--cmd {args.cmd!r}: {NO_LAYERS.split(' (')[0]}"))
            return
        by_function = {layer.function: layer for layer in bound}
        left = [case for case in found.cases if case.function not in by_function]
        if left:
            run.notes.append(not_checked_note(left, f"--cmd {args.cmd!r}: its hello's `layers` do not list them"))
        for case in found.cases:
            if case.function in by_function:
                run.verdicts.append(check_layer_case(by_function[case.function], case, name))
    except KeyboardInterrupt:
        run.interrupted = True
        run.notes.append(
            f"interrupted (Ctrl-C) after {len(run.verdicts)} cases: their verdicts are reported, the "
            f"other cases were not checked"
        )


def _nothing(run) -> int:
    import sys

    for note in run.notes[:-1]:
        print(f"refbp: note: {note}", file=sys.stderr)
    return fail_usage(f"nothing to check: {run.notes[-1]}")


def fuzz_over_pipe(args, handle) -> int:
    """`refbp fuzz --cmd`: the command started, then `handle` (fuzz's) run with `--impl cmd:COMMAND`,
    which refbp.check.adapter makes the command's factory; the command stopped at the end. With
    `--layer` (no FILE): the layers its hello lists, their inputs drawn (refbp.layer.draw)."""
    from refbp.pipe import PipeBroken, close_all

    from .layer_option import dtype_problem

    problem = pipe_problem(args)
    if args.layer == "":
        problem = (
            problem
            or dtype_problem(args)
            or ("--layer takes --examples (input sets per function), not --minutes" if args.minutes is not None else "")
        )
    if problem:
        return fail_usage(problem)
    factory, code = start_pipe(args)
    if factory is None:
        return code
    try:
        if args.layer == "":
            return _fuzz_layers(factory, args)
        args.impl, args.cmd = PIPE_PREFIX + args.cmd, None
        return handle(args)
    except PipeBroken as exc:
        return fail_usage(str(exc))
    finally:
        close_all()


def _fuzz_layers(factory, args) -> int:
    from refbp.layer.draw import fuzz_layers
    from refbp.layer.over_pipe import pipe_layers

    from .layer_option import fuzz_summary

    bound = pipe_layers(factory)
    if not bound:
        return fail_usage(f"--cmd {args.cmd!r}: {NO_LAYERS.split(';')[0]}")
    start, name = time.perf_counter(), args.name if getattr(args, "name", None) else factory.name
    results = [
        (layer.function, fuzz_layers([layer], name, examples=args.examples or 50, fuzz_seed=args.seed))
        for layer in bound
    ]
    return fuzz_summary(results, args, time.perf_counter() - start)
