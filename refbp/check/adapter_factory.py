"""Finding a Python implementation's factory: `--impl MODULE:FACTORY`, `FILE.py:FACTORY` or
`cmd:COMMAND` (a program over a pipe) -> the callable, and the version it says it is.

The factory is called through the adapter protocol by refbp.check.adapter (docs/formats.md).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from ..parallel import watch
from ..pipe import PIPE_PREFIX, pipe_factory

__all__ = ["AdapterError", "implementation_version", "load_factory"]


class AdapterError(ValueError):
    """--impl names nothing that can be imported and called (a usage problem, exit 2)."""


def load_factory(spec: str) -> Callable[..., Any]:
    """`package.module:factory` or `path/to/file.py:factory` -> the callable; `cmd:COMMAND`: a
    program in any language over a pipe (refbp.pipe, started once per process)."""
    if spec.startswith(PIPE_PREFIX):
        return pipe_factory(spec[len(PIPE_PREFIX) :])
    module_name, sep, attribute = spec.rpartition(":")
    if not sep or not module_name or not attribute:
        raise AdapterError(f"--impl {spec!r}: expected MODULE:FACTORY or FILE.py:FACTORY")
    try:
        # Watched in a guarded worker (refbp.parallel.watch): an import that exits or hangs is named.
        if module_name.endswith(".py") or "/" in module_name:
            module = watch.call("import", _module_from_file, Path(module_name))
        else:
            module = watch.call("import", _module_by_name, module_name)
    except AdapterError:
        raise
    except Exception as exc:
        raise AdapterError(f"--impl {spec!r}: cannot import {module_name}: {type(exc).__name__}: {exc}") from exc
    factory = getattr(module, attribute, None)
    if not callable(factory):
        raise AdapterError(f"--impl {spec!r}: {module_name} has no callable {attribute!r}")
    watched: Callable[..., Any] = watch.watched(factory)
    return watched


def implementation_version(factory: object) -> str:
    """The `__version__` of the factory's module or of its top-level package ("" when neither says)."""
    factory = getattr(factory, "__wrapped__", factory)  # a watched factory (refbp.parallel.watch): the user's own
    own = getattr(factory, "__version__", None)  # said by the factory itself (refbp.pipe's: the command's hello)
    if isinstance(own, str) and own:
        return own
    module_name = getattr(factory, "__module__", "") or ""
    for name in (module_name, module_name.partition(".")[0]):
        version = getattr(sys.modules.get(name), "__version__", None)
        if version:
            return str(version)
    return ""


def _module_by_name(name: str) -> ModuleType:
    """`import name`, from the current folder too (as `python -m` would): a user runs
    `refbp check --impl mypkg.nets:factory` from their project's root."""
    here = str(Path.cwd())
    if here in sys.path:
        return importlib.import_module(name)
    sys.path.insert(0, here)
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(here)


def _module_from_file(path: Path) -> ModuleType:
    if not path.is_file():
        raise AdapterError(f"--impl: {path}: no such file")
    name = f"refbp_impl_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:  # not a Python source file
        raise ImportError(f"{path} is not a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
