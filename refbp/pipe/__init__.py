"""An implementation in any language, checked over a pipe: refbp starts a command once and talks
to it in JSON lines on its stdin and stdout (protocol `refbp-pipe/1`, docs/formats.md section 11).

`pipe_factory(command)` is an adapter factory (docs/formats.md section 8) whose implementations
ask the command: everything `refbp check --impl` does (the suite, diagnosis, own-forward finite
differences, reports, the store) works on it unchanged. A command that dies, hangs, writes a
partial or foreign line, answers another id or floods its stdout raises PipeBroken: one line
naming the case and the problem (a usage-level failure, exit 2), never a hang or a traceback.

This package imports numpy and the standard library only: refbp.check loads it (by the
`cmd:` spec of `load_factory`), never the other way round.
"""

from .factory import PIPE_PREFIX, PipeFactory, close_all, pipe_factory, start
from .process import PipeBroken
from .protocol import PROTOCOL

__all__ = ["PIPE_PREFIX", "PROTOCOL", "PipeBroken", "PipeFactory", "close_all", "pipe_factory", "start"]
