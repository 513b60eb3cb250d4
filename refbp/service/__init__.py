"""The verification service (`refbp serve`): an HTTP API over the suite and the verdict store
(refbp.service.app: `create_app`), pages people read (refbp.service.pages), under clear
limits (refbp.service.settings, body, pool). It judges and records through the library
(refbp.check.verify, refbp.store); it computes nothing of its own.

This package imports nothing itself: importing one of its light modules (settings, lifeline)
loads neither FastAPI nor torch. A server in a subprocess, for the benchmarks and the tests,
is refbp.serving's (the command line's `refbp serve`, over HTTP).
"""
