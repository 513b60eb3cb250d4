"""What an implementation says it supports (`factory.capabilities`, docs/formats.md section 8), and
the space `refbp fuzz` draws from: the factory's capabilities, narrowed further by the command
line, so that a narrow implementation gets as many checkable examples as a broad one.

    factory.capabilities = {"kinds": ["mlp"], "activations": ["sigmoid"], "losses": ["half_sse"],
                            "optimizers": ["sgd"], "momentum": False, "weight_decay": False,
                            "frozen": True, "dtypes": ["float64"], "bias": [True], "batch": [1, 4]}

Every key is optional (absent: anything refbp draws). `optimizers: []` never trains. `batch` is
[most] or [least, most]. `activations` holds the MLP's activations (hidden and output) and the
RNN's nonlinearity and output activation. The legacy `factory.kinds` still counts. This module
only reads declarations: it draws nothing and imports no implementation.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from refbp import names

MAX_BATCH = 12  # refbp.testing.strategies.MAX_BATCH (not imported: it loads hypothesis)
FLAGS = ("momentum", "weight_decay", "frozen")


class CapabilityError(ValueError):
    """A declaration refbp cannot read, or a space with nothing in it (bad usage, exit 2)."""


@dataclass(frozen=True)
class Capabilities:
    """A hashable space of cases (hypothesis's draws are cached per space)."""

    kinds: tuple[str, ...] = names.NETWORK_KINDS
    activations: tuple[str, ...] = tuple(names.ACTIVATIONS)
    losses: tuple[str, ...] = tuple(names.LOSSES)
    optimizers: tuple[str, ...] = names.OPTIMIZERS
    dtypes: tuple[str, ...] = names.DTYPES
    bias: tuple[bool, ...] = (True, False)
    batch: tuple[int, int] = (1, MAX_BATCH)
    momentum: bool = True
    weight_decay: bool = True
    frozen: bool = True

    def narrowed(self, other: Capabilities | None) -> Capabilities:
        """What both allow (the factory's capabilities and the command line's)."""
        if other is None:
            return self
        both: dict[str, Any] = {
            f.name: tuple(x for x in getattr(self, f.name) if x in getattr(other, f.name))
            for f in fields(self)
            if f.name not in FLAGS + ("batch",)
        }
        batch = (max(self.batch[0], other.batch[0]), min(self.batch[1], other.batch[1]))
        flags: dict[str, Any] = {flag: getattr(self, flag) and getattr(other, flag) for flag in FLAGS}
        return replace(self, **both, batch=batch, **flags)

    def losses_with_heads(self) -> tuple[str, ...]:
        """The losses some allowed activation can end the network for (cross_entropy: identity; bce: sigmoid)."""
        heads = {"cross_entropy": ("identity",), "bce": ("sigmoid",)}
        return tuple(loss for loss in self.losses if set(heads.get(loss, self.activations)) & set(self.activations))

    def drawable_kinds(self) -> tuple[str, ...]:
        """The kinds with something to draw: an RNN needs tanh or relu, every kind a loss with its head."""
        if not self.losses_with_heads() or self.batch[0] > self.batch[1] or not self.bias:
            return ()
        elementwise = [a for a in self.activations if names.ACTIVATIONS[a].elementwise]
        found = []
        for kind in self.kinds:
            if kind == "rnn" and not set(self.activations) & set(names.RNN_NONLINEARITIES):
                continue
            if kind == "mlp" and not (elementwise or self.activations):
                continue
            found.append(kind)
        return tuple(found)

    def describe(self) -> str:
        """The space in a few words, for messages."""
        return (
            f"kinds {', '.join(self.kinds) or 'none'}; activations {', '.join(self.activations) or 'none'}; "
            f"losses {', '.join(self.losses) or 'none'}; optimizers {', '.join(self.optimizers) or 'none'}; "
            f"dtypes {', '.join(self.dtypes) or 'none'}"
        )


EVERYTHING = Capabilities()


def declared(raw, kinds=None) -> Capabilities | None:
    """The capabilities a factory declares (`raw` its `capabilities`, `kinds` its legacy `kinds`);
    None when it declares neither. CapabilityError names what is wrong."""
    if raw is None and kinds is None:
        return None
    space = EVERYTHING
    if kinds is not None:
        space = replace(space, kinds=_names("kinds", kinds, names.NETWORK_KINDS))
    if raw is None:
        return space
    if not isinstance(raw, dict):
        raise CapabilityError(f"the factory's `capabilities` must be a dict, not {type(raw).__name__}")
    unknown = sorted(set(raw) - {f.name for f in fields(Capabilities)})
    if unknown:
        raise CapabilityError(
            f"the factory's `capabilities` has unknown keys: {', '.join(map(str, unknown))} "
            f"(known: {', '.join(f.name for f in fields(Capabilities))})"
        )
    values: dict[str, Any] = {}
    for key, known in (
        ("kinds", names.NETWORK_KINDS),
        ("activations", tuple(names.ACTIVATIONS)),
        ("losses", tuple(names.LOSSES)),
        ("optimizers", names.OPTIMIZERS),
        ("dtypes", names.DTYPES),
    ):
        if key in raw:
            values[key] = _names(key, raw[key], known, empty_ok=key == "optimizers")
    if "bias" in raw:
        bias = raw["bias"] if isinstance(raw["bias"], (list, tuple)) else [raw["bias"]]
        if not bias or any(not isinstance(b, bool) for b in bias):
            raise CapabilityError("the factory's `capabilities` bias must be true, false or a list of them")
        values["bias"] = tuple(dict.fromkeys(bias))
    if "batch" in raw:
        values["batch"] = batch_range(raw["batch"])
    for flag in FLAGS:
        if flag in raw:
            if not isinstance(raw[flag], bool):
                raise CapabilityError(f"the factory's `capabilities` {flag} must be true or false")
            values[flag] = raw[flag]
    return replace(space, **values).narrowed(space)


def batch_range(given) -> tuple[int, int]:
    """[most] or [least, most] (or a number: most) -> (least, most), within 1..MAX_BATCH."""
    items = list(given) if isinstance(given, (list, tuple)) else [given]
    if not 1 <= len(items) <= 2 or any(isinstance(b, bool) or not isinstance(b, int) for b in items):
        raise CapabilityError(f"batch {given!r}: [most] or [least, most], whole numbers")
    least, most = (1, items[0]) if len(items) == 1 else items
    if not 1 <= least <= most:
        raise CapabilityError(f"batch {given!r}: needs 1 <= least <= most")
    return least, min(most, MAX_BATCH)


def _names(key: str, given, known, empty_ok: bool = False) -> tuple[str, ...]:
    items = [given] if isinstance(given, str) else list(given) if isinstance(given, (list, tuple)) else None
    if items is None or (not items and not empty_ok):
        raise CapabilityError(f"the factory's `{key}` must be a list of some of {', '.join(known)}")
    bad = [x for x in items if x not in known]
    if bad:
        raise CapabilityError(f"the factory's `{key}` names {bad[0]!r}, not one of {', '.join(known)}")
    return tuple(dict.fromkeys(items))


def from_options(
    activations: str | None = None,
    losses: str | None = None,
    optimizers: str | None = None,
    bias: str | None = None,
    batch: str | None = None,
) -> Capabilities | None:
    """The command line's narrowing (comma-separated names; `optimizers` "none": no training;
    `bias` with, without or either; `batch` MOST or LEAST-MOST); None when nothing is narrowed."""
    raw: dict = {}
    for key, text in (("activations", activations), ("losses", losses), ("optimizers", optimizers)):
        if text is not None:
            raw[key] = (
                [] if key == "optimizers" and text == "none" else [x.strip() for x in text.split(",") if x.strip()]
            )
    if bias is not None:
        raw["bias"] = {"with": [True], "without": [False], "either": [True, False]}[bias]
    if batch is not None:
        try:
            raw["batch"] = [int(x) for x in batch.split("-")]
        except ValueError:
            raise CapabilityError(f"--batch {batch}: MOST or LEAST-MOST") from None
    if not raw:
        return None
    try:
        return declared(raw)
    except CapabilityError as exc:
        raise CapabilityError(
            str(exc).replace("the factory's `capabilities` ", "--").replace("the factory's `", "--").replace("`", "")
        ) from None


def options_text(narrow: Capabilities | None) -> list[str]:
    """The command-line options that give `narrow` again (for the command a fuzz run prints)."""
    if narrow is None:
        return []
    parts = []
    for key in ("activations", "losses", "optimizers"):
        value = getattr(narrow, key)
        if value != getattr(EVERYTHING, key):
            parts.append(f"--{key} {','.join(value) or 'none'}")
    if narrow.bias != EVERYTHING.bias:
        parts.append(f"--bias {'with' if narrow.bias == (True,) else 'without'}")
    if narrow.batch != EVERYTHING.batch:
        parts.append(f"--batch {narrow.batch[0]}-{narrow.batch[1]}")
    return parts
