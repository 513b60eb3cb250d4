"""What a run's or a benchmark's numbers depend on: versions, platform, threads, command (environment.json).

Versions come from the installed packages' metadata (importlib.metadata), so the report
layer never imports torch to name its version. What only the caller knows (a run's dtypes
and seeds, a benchmark's torch threads and CUDA device) comes in `extra`.
"""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata

from refbp import __version__

PACKAGES = ("numpy", "torch", "pandas")
THREAD_VARIABLES = ("OPENBLAS", "OMP_", "MKL_")


def package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def environment(extra: dict | None = None) -> dict:
    """Versions of refbp, python and PACKAGES, the platform and processor, the BLAS/OpenMP thread
    variables, the command line; then `extra`."""
    info = {
        "refbp": __version__,
        "python": sys.version.split()[0],
        **{name: package_version(name) for name in PACKAGES},
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": _cpu_name(),
        "cpu_count": os.cpu_count(),
        "blas_env": {k: v for k, v in sorted(os.environ.items()) if k.startswith(THREAD_VARIABLES)},
        "command": " ".join(sys.argv),
    }
    info.update(extra or {})
    return info


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()
