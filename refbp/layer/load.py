"""`path/to/layers.py:NAME` (or `package.module:NAME`) -> the bound layers of the declaration NAME
(default `REFBP_LAYERS`) in that module. The module is imported in this process."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

from .declaration import Bound, DeclarationError, bind

DEFAULT_NAME = "REFBP_LAYERS"


def load_declaration(spec: str) -> list[Bound]:
    """The bound layers of `spec`; DeclarationError (one line) when it cannot be used."""
    module_name, _sep, attribute = spec.rpartition(":") if ":" in spec else (spec, "", DEFAULT_NAME)
    attribute = attribute or DEFAULT_NAME
    try:
        if module_name.endswith(".py") or "/" in module_name:
            path = Path(module_name)
            if not path.is_file():
                raise DeclarationError(f"--layer {spec}: {path}: no such file")
            loaded = importlib.util.spec_from_file_location(f"refbp_layers_{abs(hash(str(path.resolve())))}", path)
            assert loaded is not None and loaded.loader is not None, (
                "spec_from_file_location gives a loader for a source file"
            )
            module = importlib.util.module_from_spec(loaded)
            sys.modules[loaded.name] = module
            loaded.loader.exec_module(module)
        else:
            module = importlib.import_module(module_name)
    except DeclarationError:
        raise
    except Exception as exc:
        raise DeclarationError(f"--layer {spec}: cannot import {module_name}: {type(exc).__name__}: {exc}") from exc
    declaration = getattr(module, attribute, None)
    if declaration is None:
        raise DeclarationError(f"--layer {spec}: {module_name} has no {attribute}")
    try:
        return bind(declaration, module)
    except DeclarationError as exc:
        raise DeclarationError(f"--layer {spec}: {exc}") from None
