"""`refbp serve --workers N`: each worker process listens on a socket of its own, so that the
kernel spreads the connections over the workers.

uvicorn's supervisor binds one socket and its workers share it: the first worker to wake takes
every connection waiting (asyncio accepts up to --backlog, 2,048, at a time), so a burst of
keep-alive clients lands on one worker while the others idle. Measured with 16 clients on
`--workers 2`: all 16 connections on one worker, the other idle; the second process added no
throughput. Here the supervisor binds its socket with SO_REUSEPORT and never listens on it (it
holds the port, and a port in use fails at once), and each worker, when the socket is handed to
it, gets a new socket bound to the same address with SO_REUSEPORT instead: the kernel hashes
each new connection to one of the workers' listening sockets. A worker that dies closes its own
socket; its replacement opens another. (Linux: only sockets of the same user join the group.)
"""

from __future__ import annotations

import logging
import socket
import sys

from uvicorn import Config
from uvicorn.server import STARTUP_FAILURE


class WorkerSocket(socket.socket):
    """A socket bound with SO_REUSEPORT which, handed to a worker process (pickled), becomes a new
    socket of that worker bound to the same address."""

    def __reduce__(self):
        return (bound, (self.family, self.getsockname()))


def bound(family: int, address) -> WorkerSocket:
    sock = WorkerSocket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock


def spreads() -> bool:
    """Whether this system can spread connections over sockets bound to one address (Linux can)."""
    return hasattr(socket, "SO_REUSEPORT") and sys.platform.startswith("linux")


class SpreadConfig(Config):
    """uvicorn's configuration, binding the supervisor's socket as above."""

    def bind_socket(self) -> socket.socket:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        try:
            return bound(family, (self.host, self.port))
        except OSError as exc:
            logging.getLogger("uvicorn.error").error(exc)
            sys.exit(STARTUP_FAILURE)


def run_workers(app: str, **options) -> None:
    """uvicorn's supervisor over `options["workers"]` processes of `app` (an import string), each
    on its own socket (restarting a worker that dies, as uvicorn.run does)."""
    from uvicorn.supervisors import Multiprocess

    config = SpreadConfig(app, **options)
    Multiprocess(config, sockets=[config.bind_socket()]).run()
