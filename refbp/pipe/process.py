"""The command's process: started once, in its own session, one JSON line written to its stdin
and one read from its stdout at a time, each exchange limited in time and in size; stopped
cleanly at the end. Its stderr is refbp's (what it prints there reaches the user as is).

Writing and reading interleave (select on both pipes), so that a command which starts
answering before it has read a whole big request, or prints into its stdout, cannot deadlock
refbp on a full pipe. Nothing here knows what the lines mean (refbp.pipe.client does).
"""

from __future__ import annotations

import os
import select
import shlex
import signal
import subprocess
import time

# An answer line longer than this is a flood, not an answer (a 784-256-256-10 case's gradients
# and intermediates as text are ~30 MB; as base64 ~10 MB).
MAX_LINE_BYTES = 256 * 1024 * 1024
CHUNK = 1 << 20
# Seconds the command gets to exit after its stdin is closed, then after SIGTERM, before SIGKILL.
GRACE = 2.0


class PipeBroken(BaseException):
    """The command cannot be talked to any more: it died, hung past the timeout, wrote a line that
    is not an answer, or flooded its stdout. A BaseException, so that it passes the `except
    Exception` that makes a raising implementation a failed case: it ends the run (exit 2) with
    its one line, which names the case and the problem."""


class PipeProcess:
    def __init__(self, command: str):
        self.command = command
        try:
            argv = shlex.split(command)
        except ValueError as exc:
            raise PipeBroken(f"cannot split the command into words: {exc}") from None
        if not argv:
            raise PipeBroken("the command is empty")
        try:
            # Its own session: Ctrl-C at the terminal reaches refbp only, which then stops it (and
            # what it started) in order; refbp's process group is never signalled by it.
            self.process = subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=None, start_new_session=True, bufsize=0
            )
        except OSError as exc:
            raise PipeBroken(f"cannot start {argv[0]!r}: {exc.strerror or exc}") from None
        assert self.process.stdin is not None and self.process.stdout is not None  # Popen's PIPE made both
        self.stdin, self.stdout = self.process.stdin.fileno(), self.process.stdout.fileno()
        os.set_blocking(self.stdin, False)
        self.buffer = bytearray()
        self.scanned = 0  # bytes of the buffer known to hold no newline (a long line is searched once)
        self.lines_read = 0

    def exchange(self, line: bytes, timeout: float) -> bytes:
        """Write `line` (ending in a newline), return the next line the command writes (without its
        newline); PipeBroken when it dies, overruns `timeout` seconds or floods."""
        pending = memoryview(line)
        deadline = time.monotonic() + timeout
        while True:
            end = self.buffer.find(b"\n", self.scanned)
            if end >= 0 and not pending:
                answer = bytes(self.buffer[:end])
                del self.buffer[: end + 1]
                self.scanned = 0
                self.lines_read += 1
                return answer
            self.scanned = len(self.buffer) if end < 0 else end
            if len(self.buffer) > MAX_LINE_BYTES:
                raise PipeBroken(
                    f"it wrote more than {MAX_LINE_BYTES // 2**20} MiB without ending its line "
                    f"(a flood of its stdout): stopped"
                )
            left = deadline - time.monotonic()
            if left <= 0:
                raise PipeBroken(self._overdue(timeout))
            readable, writable, _ = select.select([self.stdout], [self.stdin] if pending else [], [], left)
            if writable:
                pending = self._write(pending)
            if readable:
                self._read()

    def _write(self, pending: memoryview) -> memoryview:
        try:
            written = os.write(self.stdin, pending[:CHUNK])
        except BlockingIOError:
            return pending
        except (BrokenPipeError, ConnectionResetError):
            raise PipeBroken(f"it stopped reading its stdin{self._how_it_ended()}") from None
        return pending[written:]

    def _read(self) -> None:
        data = os.read(self.stdout, CHUNK)
        if data:
            self.buffer += data
            return
        partial = f" after writing part of a line ({len(self.buffer)} bytes, no newline)" if self.buffer else ""
        raise PipeBroken(f"it closed its stdout{partial}{self._how_it_ended()}")

    def _overdue(self, timeout: float) -> str:
        partial = f", after writing part of a line ({len(self.buffer)} bytes)" if self.buffer else ""
        return f"no answer within {timeout:g} s (--timeout){partial}: stopped"

    def _how_it_ended(self) -> str:
        """`: it exited with code 3`, once its exit is known (waited for a moment)."""
        try:
            code = self.process.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            return " (it is still running)"
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = str(-code)
            return f": the command was killed by signal {name}"
        return f": the command exited with code {code}"

    def stop(self) -> int | None:
        """End it: stdin closed (a well-behaved command exits on EOF), then SIGTERM, then SIGKILL
        to its process group (what it started goes too). Its exit code (None if unknown)."""
        process = self.process
        assert process.stdin is not None and process.stdout is not None  # started with PIPE for both
        try:
            process.stdin.close()
        except OSError:
            pass
        for sig in (None, signal.SIGTERM, signal.SIGKILL):
            if sig is not None:
                try:
                    os.killpg(process.pid, sig)
                except OSError:
                    pass
            try:
                code = process.wait(timeout=GRACE)
                break
            except subprocess.TimeoutExpired:
                code = None
        else:
            code = None
        try:
            os.killpg(process.pid, signal.SIGKILL)  # anything it left running in its group
        except OSError:
            pass
        process.stdout.close()
        return code
