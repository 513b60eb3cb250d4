"""uvicorn's HTTP protocol (httptools) with the timeouts it lacks: a connection that sends no
request, or whose request's headers do not arrive, within HEADER_SECONDS (--header-seconds) is
closed. uvicorn
only times out a connection idle *after* a response (--timeout-keep-alive), so 20,000 idle or
slow sockets held their file descriptors for ever; with this, each lasts seconds. (The body's
own time is the app's: refbp.service.body, 408.)
"""

from __future__ import annotations

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .settings import Settings

# `refbp serve` sets its settings before uvicorn imports this (in each worker too).
HEADER_SECONDS = Settings.from_variable().limits.header_seconds


class GuardedHttpTools(HttpToolsProtocol):
    header_timer = None

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._arm()  # a connection must start its request, and end its headers, in time

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self.header_timer is None:
            self.header_timer = self.loop.call_later(HEADER_SECONDS, self._too_slow)

    def _disarm(self) -> None:
        if self.header_timer is not None:
            self.header_timer.cancel()
            self.header_timer = None

    def _too_slow(self) -> None:
        self.header_timer = None
        # no request under way: nothing is cut short
        if (self.cycle is None or self.cycle.response_complete) and not self.transport.is_closing():
            self.transport.close()
