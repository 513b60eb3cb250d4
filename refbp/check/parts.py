"""A case's verdict cut into the parts a student, a teacher or a CI dashboard reads: the
forward, each gradient tensor, the training.

A part gathers the rows of its quantities over every reference: `forward` (outputs, loss,
intermediates), `gradient <tensor>` (grads and input_grads, one part per tensor) and
`training` (params_after, loss_after). JUnit's test cases, the score line and the grades are
all counted in these parts, so the three never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .verdict import CaseVerdict, Check, VerdictState

FORWARD, GRADIENTS, TRAINING = "forward", "gradients", "training"
CATEGORIES = (FORWARD, GRADIENTS, TRAINING)
CATEGORY_OF = {
    "outputs": FORWARD,
    "loss": FORWARD,
    "intermediates": FORWARD,
    "grads": GRADIENTS,
    "input_grads": GRADIENTS,
    "params_after": TRAINING,
    "loss_after": TRAINING,
}
# What an implementation is asked for: a quantity of these it did not provide fails its part.
# Intermediates and input gradients are optional answers (docs/formats.md section 3).
ASKED = ("outputs", "loss", "grads", "params_after", "loss_after")

PASS, FAIL, INCONCLUSIVE, MISSING, ERROR = "pass", "fail", "inconclusive", "missing", "error"
NOT_JUDGED = "not judged"  # no reference had a row for it (e.g. --oracle expected on an unpublished tensor)


@dataclass
class Part:
    case: str
    name: str  # "forward", "gradient layers.0.weight", "training"
    category: str  # forward | gradients | training
    checks: list[Check] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # the quantities not provided ("grads.layers.0.weight")
    errors: list[str] = field(default_factory=list)  # the case's errors, where no row judged this part

    @property
    def state(self) -> str:
        """fail when a row failed; missing when something asked was not given; error when the case
        could not be checked; not judged when no row judged it; inconclusive when a row is; pass when
        every row passed."""
        states = [c.state for c in self.checks]
        if VerdictState.FAIL in states:
            return FAIL
        if self.missing:
            return MISSING
        if self.errors:
            return ERROR
        if not self.checks:
            return NOT_JUDGED
        return INCONCLUSIVE if VerdictState.INCONCLUSIVE in states else PASS

    @property
    def passed(self) -> bool:
        return self.state == PASS

    def failed_checks(self) -> list[Check]:
        return [c for c in self.checks if c.state is VerdictState.FAIL]


def part_of(quantity: str, tensor: str) -> tuple[str, str]:
    """(category, part name) of a row's quantity and tensor."""
    category = CATEGORY_OF.get(quantity, FORWARD)
    if category == GRADIENTS:
        return category, f"gradient {tensor}"
    return category, category


def expected_parts(case: Any) -> list[tuple[str, str]]:
    """(category, name) of every part a case asks of an implementation: the forward, a gradient
    per parameter, and the training when the case trains."""
    parts = [(FORWARD, FORWARD)] + [(GRADIENTS, f"gradient {name}") for name in case.network.param_shapes()]
    if case.train is not None:
        parts.append((TRAINING, TRAINING))
    return parts


def verdict_parts(verdict: CaseVerdict, case: Any = None) -> list[Part]:
    """The parts of a verdict, in the order forward, gradients, training. With `case`, every part
    the case asks for is there even when no row judged it (a crash: each part an error); without,
    the parts are those its rows and its not-provided quantities name (a case that could not be
    checked at all has none)."""
    parts: dict[str, Part] = {}

    def get(category: str, name: str) -> Part:
        if name not in parts:
            parts[name] = Part(verdict.case, name, category)
        return parts[name]

    for category, name in expected_parts(case) if case is not None else ():
        get(category, name)
    for check in verdict.checks:
        get(*part_of(check.quantity, check.tensor)).checks.append(check)
    for item in verdict.not_provided:
        quantity, _, tensor = item.partition(".")
        if quantity in ASKED:
            get(*part_of(quantity, tensor or quantity)).missing.append(item)
    for part in parts.values():
        if verdict.errors and not part.checks:
            part.errors = list(verdict.errors)
    return sorted(parts.values(), key=lambda p: CATEGORIES.index(p.category))
