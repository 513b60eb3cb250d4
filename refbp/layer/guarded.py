"""`check --layer` and `fuzz --layer` with the user's layers in guarded worker processes
(refbp.parallel.guarded), as `--impl` runs: the module is imported there, one unit of work per
declared function, each forward and backward watched and limited to `--timeout`. A layer that
exits, hangs, dies or prints cannot end refbp, stall it or garble its stdout: its function's
input sets fail with the reason, the other functions go on."""

from __future__ import annotations

from functools import lru_cache

from refbp.cases.layer_case import parse_layer_case

from ..check.states import ErrorKind
from ..check.verdict import CaseVerdict
from .cases import check_layer_case
from .check import check_layers
from .declaration import DeclarationError
from .load import load_declaration


def declared_functions(spec: str) -> tuple[tuple[str, ...], str]:
    """(the declared functions, "") or ((), why the declaration cannot be used): in a worker."""
    try:
        return tuple(layer.function for layer in _bound(spec)), ""
    except DeclarationError as exc:
        return (), str(exc)


def check_function(unit: tuple) -> list[CaseVerdict]:
    """The verdicts of declared function number `index` of `spec` (module-level: run in a worker)."""
    spec, index, name = unit
    return check_layers([_bound(spec)[index]], name)


def check_cases_function(unit: tuple) -> list[CaseVerdict]:
    """Declared function number `index` of `spec` on layer cases given as (document, path) pairs
    (plain data, read again here): a verdict per case (refbp.layer.cases)."""
    spec, index, name, documents = unit
    layer = _bound(spec)[index]
    return [check_layer_case(layer, parse_layer_case(document, path or None), name) for document, path in documents]


def fuzz_function(unit: tuple):
    """refbp.layer.draw.fuzz_layers on declared function number `index` (in a worker)."""
    from .draw import fuzz_layers

    spec, index, name, examples, seed = unit
    return fuzz_layers([_bound(spec)[index]], name, examples=examples, fuzz_seed=seed)


@lru_cache(maxsize=4)
def _bound(spec: str):
    from ..parallel import watch

    return tuple(watch.call("import", load_declaration, spec))


def crashed(function: str, name: str, reason: str) -> CaseVerdict:
    """The verdict of a function whose worker gave no result (it exited, hung or died)."""
    return CaseVerdict(
        case=f"layer:{function}",
        implementation=name,
        passed=False,
        path=f"layer:{function}",
        title=f"{function}: could not be checked",
        network=f"layer {function}",
        dtype="float64",
        error_kind=ErrorKind.CRASH,
        errors=[f"layer:{function}: could not be checked: {reason}"],
    )
