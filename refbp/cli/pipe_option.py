"""`--cmd "COMMAND ARGS"` of `refbp check` and `refbp fuzz`: an implementation in any language,
started once and spoken to in JSON lines (refbp.pipe; docs/formats.md section 11). The checks are
those of `--impl`: the command's factory is the adapter `cmd:COMMAND` (refbp.check.adapter)."""

from __future__ import annotations

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
is stopped at the end and on Ctrl-C (stdin closed, then SIGTERM, then SIGKILL)."""


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
    """`refbp check --cmd`: the suite, as `--impl` checks it, on the command's answers."""
    from refbp.check import run_suite
    from refbp.check.units import CheckWith
    from refbp.pipe import PipeBroken, close_all

    from .ci_options import finish_ci
    from .outcome import finish, run_settings

    problem = pipe_problem(args)
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
    try:
        run = run_suite(
            args.paths or None,
            oracles=oracles,
            progress=False if args.no_progress else None,
            check_with=CheckWith(impl=PIPE_PREFIX + args.cmd, name=name, conventions=args.conventions),
            fd_method=args.fd_method,
            keep_interrupted=True,
        )
    except PipeBroken as exc:
        return fail_usage(str(exc))
    finally:
        close_all()
    run.implementation = name
    marked = ({"interrupted": run.notes[-1]},) if run.interrupted else ()
    return finish_ci(
        run, args, "check", lambda run: finish(run, args, "check", *marked, implementation_version=factory.__version__)
    )


def fuzz_over_pipe(args, handle) -> int:
    """`refbp fuzz --cmd`: the command started, then `handle` (fuzz's) run with `--impl cmd:COMMAND`,
    which refbp.check.adapter makes the command's factory; the command stopped at the end."""
    from refbp.pipe import PipeBroken, close_all

    problem = pipe_problem(args)
    if problem:
        return fail_usage(problem)
    factory, code = start_pipe(args)
    if factory is None:
        return code
    args.impl, args.cmd = PIPE_PREFIX + args.cmd, None
    try:
        return handle(args)
    except PipeBroken as exc:
        return fail_usage(str(exc))
    finally:
        close_all()
