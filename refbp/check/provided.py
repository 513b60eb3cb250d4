"""Partial answers: what an implementation declares it does not compute (docs/formats.md section
8, "Partial answers"), and what that makes of a verdict (PARTIAL; `--require all`).

A declaration is a tuple of patterns on the factory (`factory.not_provided`, for every case) or
on the implementation it returns (`implementation.not_provided`, for that case):

    "layers.*.bias"          the gradient of each parameter matching the glob (grads.<name>)
    "grads.layers.0.bias"    the same, written with its quantity
    "params_after"           a whole quantity: outputs, loss, params_after, loss_after, intermediates
    "train"                  params_after and loss_after together (its own update rule, no freezing)

A declared tensor that is absent is "not provided" (the verdict's `not_provided`, never a failed
row, never silently skipped); an asked tensor that is absent WITHOUT a declaration is a failed row
(diagnosis `missing`). A case passed on part of what it asks is PARTIAL; `require_all` fails it.
This module only reads declarations and verdicts: it calls no implementation.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Iterable
from dataclasses import replace

from .verdict import ASKED, CaseVerdict, Check

QUANTITY_WORDS = ("outputs", "loss", "grads", "params_after", "loss_after", "intermediates", "input_grads", "train")
REQUIRE_CHOICES = ("given", "all")
REQUIRED_NOTE = "not provided (declared), and --require all asks for every quantity"


class DeclarationError(ValueError):
    """A `not_provided` declaration that is not a tuple of strings (the implementation's fault)."""


class NotProvided:
    """The patterns an implementation declared, and the questions the adapter asks of them."""

    def __init__(self, patterns: Iterable[str] = ()) -> None:
        self.patterns = tuple(patterns)

    @classmethod
    def of(cls, *holders: object) -> NotProvided:
        """The patterns of every holder's `not_provided` (the factory, the implementation)."""
        patterns = []
        for holder in holders:
            given = getattr(holder, "not_provided", None)
            if given is None:
                continue
            given = (given,) if isinstance(given, str) else given
            try:
                items = list(given)
            except TypeError:
                raise DeclarationError(f"not_provided must be a tuple of strings, not {type(given).__name__}") from None
            bad = [item for item in items if not isinstance(item, str) or not item]
            if bad:
                raise DeclarationError(f"not_provided must hold non-empty strings: {bad[0]!r} is not one")
            patterns += items
        return cls(patterns)

    def quantity(self, quantity: str) -> bool:
        """Whether a whole quantity is declared (`params_after`; `train` covers both training ones)."""
        words = {quantity} | ({"train"} if quantity in ("params_after", "loss_after") else set())
        return any(p in words for p in self.patterns)

    def tensor(self, quantity: str, name: str) -> bool:
        """Whether `quantity`'s tensor `name` is declared (a bare parameter glob names its gradient)."""
        if self.quantity(quantity):
            return True
        for pattern in self.patterns:
            head, _, rest = pattern.partition(".")
            if head in QUANTITY_WORDS:
                if head == quantity and rest and fnmatch.fnmatchcase(name, rest):
                    return True
            elif quantity == "grads" and fnmatch.fnmatchcase(name, pattern):
                return True
        return False

    def __bool__(self) -> bool:
        return bool(self.patterns)


def partial_items(verdict: CaseVerdict) -> list[str]:
    """The asked quantities and tensors the verdict's implementation did not provide."""
    return [item for item in verdict.not_provided if item.partition(".")[0] in ASKED]


def require_all(verdict: CaseVerdict) -> CaseVerdict:
    """`--require all`: every asked quantity not provided becomes a failed row (diagnosis
    `missing`), so that a PARTIAL case fails. A case that could not be checked is left as it is."""
    if verdict.errors or not verdict.checks:
        return verdict
    checks = list(verdict.checks)
    for item in partial_items(verdict):
        quantity, _, tensor = item.partition(".")
        tensor = tensor or ("loss" if quantity in ("loss", "loss_after") else quantity)
        if any(c.quantity == quantity and c.tensor == tensor and not c.passed for c in checks):
            continue  # already failed (absent without a declaration)
        checks.append(
            Check(
                quantity=quantity,
                tensor=tensor,
                reference="torch-autograd",
                max_abs_err=math.inf,
                max_rel_err=math.inf,
                worst_index=[],
                atol=0.0,
                rtol=0.0,
                passed=False,
                note=REQUIRED_NOTE,
                diagnosis="missing",
                diagnosis_note="the implementation gave no value for this tensor (declared not provided)",
            )
        )
    return replace(verdict, checks=checks, passed=verdict.passed and not partial_items(verdict))
