"""The verification service (`refbp serve`): an HTTP API over the suite and the verdict store
(refbp.service.app), pages people read (refbp.service.pages), under clear limits
(refbp.service.settings, body, pool). It judges and records through the library
(refbp.check.verify, refbp.store); it computes nothing of its own.
"""

from .app import create_app
from .settings import Limits, Settings


def app_from_environment():
    """The app of a server process started by `refbp serve` (uvicorn's factory)."""
    return create_app(Settings.from_variable())


__all__ = ["Limits", "Settings", "app_from_environment", "create_app"]
