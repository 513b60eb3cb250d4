"""Which network kinds a fuzz run draws: `--kind`, narrowed to the kinds an `--impl` factory
says it supports (`factory.kinds`, docs/formats.md section 8), so that an MLP-only
implementation spends its budget on MLPs instead of declining every RNN drawn."""

from __future__ import annotations

from dataclasses import replace

from refbp.names import NETWORK_KINDS


class NoSupportedKind(ValueError):
    """--kind asks for networks the implementation says it does not support (bad usage)."""


def declared_kinds(factory) -> tuple[str, ...] | None:
    """The network kinds `factory.kinds` names (None: it says nothing, every kind is drawn)."""
    kinds = getattr(factory, "kinds", None)
    if kinds is None:
        return None
    kinds = (kinds,) if isinstance(kinds, str) else tuple(kinds)
    unknown = [k for k in kinds if k not in NETWORK_KINDS]
    if unknown or not kinds:
        raise NoSupportedKind(f"the factory's `kinds` {kinds!r} must name some of {', '.join(NETWORK_KINDS)}")
    return kinds


def kind_to_draw(requested: str, factory, spec: str = "the implementation") -> str:
    """`requested` (mlp, rnn or all) narrowed to what `factory` supports."""
    supported = declared_kinds(factory) if factory is not None else None
    if supported is None:
        return requested
    wanted = NETWORK_KINDS if requested == "all" else (requested,)
    kinds = [k for k in wanted if k in supported]
    if not kinds:
        raise NoSupportedKind(f"--kind {requested}: {spec} supports none of these networks "
                              f"(its factory's kinds: {', '.join(supported)})")
    return kinds[0] if len(kinds) == 1 else "all"


def with_supported_kind(options, factory):
    """`options` (FuzzOptions) drawing only the kinds `factory` supports."""
    kind = kind_to_draw(options.kind, factory, options.impl or "the implementation")
    return options if kind == options.kind else replace(options, kind=kind)
