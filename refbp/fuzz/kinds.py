"""Which network kinds a fuzz run draws: `--kind`, narrowed to the kinds an `--impl` factory
says it supports (`factory.kinds`, docs/formats.md section 8), so that an MLP-only
implementation spends its budget on MLPs instead of declining every RNN drawn."""

from __future__ import annotations

from dataclasses import replace

from refbp.names import NETWORK_KINDS

from .capabilities import EVERYTHING, Capabilities, CapabilityError, declared


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
        raise NoSupportedKind(
            f"--kind {requested}: {spec} supports none of these networks (its factory's kinds: {', '.join(supported)})"
        )
    return kinds[0] if len(kinds) == 1 else "all"


def space_to_draw(requested: str, factory, spec: str, dtype: str, narrow: Capabilities | None = None):
    """What a fuzz run draws: `requested` (mlp, rnn or all) where nothing narrows it; else the
    Capabilities inside the factory's declaration (`capabilities`, `kinds`), the command line's
    `narrow` and `requested`. NoSupportedKind when nothing is left to draw (bad usage)."""
    try:
        own = (
            declared(getattr(factory, "capabilities", None), getattr(factory, "kinds", None))
            if factory is not None
            else None
        )
    except CapabilityError as exc:
        raise NoSupportedKind(f"{spec}: {exc}") from None
    if narrow is None and (own is None or getattr(factory, "capabilities", None) is None):
        return kind_to_draw(requested, factory, spec)  # kinds alone, as before
    space = (own or EVERYTHING).narrowed(narrow)
    wanted = NETWORK_KINDS if requested == "all" else (requested,)
    space = replace(space, kinds=tuple(k for k in space.kinds if k in wanted))
    if dtype not in space.dtypes:
        raise NoSupportedKind(
            f"--dtype {dtype}: {spec} supports {', '.join(space.dtypes) or 'no dtype'} (its capabilities)"
        )
    if not space.drawable_kinds():
        raise NoSupportedKind(
            f"--kind {requested}: nothing to draw inside {spec}'s capabilities and the "
            f"options given ({space.describe()})"
        )
    return space


def with_supported_kind(options, factory):
    """`options` (FuzzOptions) drawing only inside what `factory` supports and the options narrow
    (its `space`; or only the kinds it supports, where it declares nothing more)."""
    drawn = space_to_draw(
        options.kind, factory, options.impl or "the implementation", options.dtype, getattr(options, "narrow", None)
    )
    if isinstance(drawn, Capabilities):
        return replace(options, space=drawn)
    return options if drawn == options.kind else replace(options, kind=drawn)
