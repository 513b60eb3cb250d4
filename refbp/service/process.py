"""A `refbp serve` process for the service's tests: refbp.serving's, named here too so that
existing callers keep working (refbp.bench uses refbp.serving directly: it never imports the
service)."""

from __future__ import annotations

from refbp.serving import HOST, ServerFailed, free_port, healthy, serving

__all__ = ["HOST", "ServerFailed", "free_port", "healthy", "serving"]
