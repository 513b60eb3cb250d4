"""What a student reads for one part: what is wrong, in the words of the diagnosis, and never a
reference value unless the rubric shows values.

The text is made from the failed rows' diagnosis ids and notes (refbp.diagnosis: they name the
classic bug, not the numbers), the verdict's first departure (where the answer first goes wrong:
a layer, a step), and what was not provided. A row's own `note` and its `actual` and
`expected_value` carry numbers: they are used only when `show_values` is on.
"""

from __future__ import annotations

from ..check.parts import ERROR, FAIL, GRADIENTS, INCONCLUSIVE, MISSING, NOT_JUDGED, PASS, TRAINING, Part

# What each diagnosis says of the tensor, in a few words (its note says why).
HEADLINES = {
    "transposed": "looks transposed",
    "sign": "has the wrong sign",
    "zero": "is all zeros",
    "not-summed-over-batch": "is not summed over the batch",
    "missing": "is missing",
    "non-finite": "holds NaN or infinity",
    "forward-mismatch": "does not match your own forward",
    "activation-derivative:sigmoid-on-net": "takes the sigmoid's derivative of the net input",
    "activation-derivative:sigmoid-twice": "applies the sigmoid twice in its derivative",
    "activation-derivative:tanh-on-net": "takes tanh's derivative of the net input",
    "activation-derivative:softmax-elementwise": "differentiates the softmax as if it were elementwise",
    "one-path-only": "takes a hidden unit's error through one path only",
    "update-before-all-gradients": "updates a layer before every gradient is known",
    "momentum-rule": "uses another momentum rule than SGD's",
    "adam-bias-correction": "leaves out Adam's bias correction",
    "bptt-off-by-one": "is off by one step in time",
    "recurrent-term-missing": "misses the recurrent term",
    "convention": "follows another convention than torch's",
    "unknown": "is wrong, and no classic bug matches",
}
FAMILIES = {
    "scaled": "is off by a constant factor",
    "entries": "has a few wrong entries",
    "loss-gradient": "uses a wrong gradient of the loss",
    "truncated": "cuts backpropagation through time",
    "activation-derivative": "uses a wrong derivative of an activation",
    "adam-bias-correction": "gets Adam's bias correction wrong",
    "weight-decay": "gets the weight decay wrong",
    "loss-reduction": "sums where the loss takes a mean, or the reverse",
    "gradient-clipping": "clips the gradient where the case does not",
}


def headline(diagnosis: str) -> str:
    if diagnosis in HEADLINES:
        return HEADLINES[diagnosis]
    return FAMILIES.get(diagnosis.partition(":")[0], "is wrong")


def subject(part: Part) -> str:
    """What the part is, for a sentence: dL/d(layers.0.weight), the parameters after training, the forward."""
    if part.category == GRADIENTS:
        return f"dL/d({part.name.removeprefix('gradient ')})"
    if part.category == TRAINING:
        return "the training step"
    return "the forward pass (outputs, loss)"


def label(part: Part) -> str:
    """The part's name in a test's title."""
    if part.category == GRADIENTS:
        return f"gradient {subject(part)}"
    if part.category == TRAINING:
        return "training (parameters and loss after the update)"
    return "forward (outputs and loss)"


def _diagnoses(part: Part) -> list[tuple[str, str]]:
    """(id, note) of the part's failed rows, the torch rows first, each once; "unknown" only where
    no row has a named bug (a loss_after row has none when the step's bug is named)."""
    rows = sorted(part.failed_checks(), key=lambda c: c.reference != "torch-autograd")
    found = list(dict.fromkeys((c.diagnosis or "unknown", c.diagnosis_note) for c in rows))
    named = [(d, note) for d, note in found if d != "unknown"]
    return named or found[:1]


def _answer_problems(part: Part) -> list[str]:
    """What is wrong with the answer itself (its shape, a null, complex values): the notes of
    section 5 of docs/formats.md, which speak of the answer, never of the reference."""
    problems = []
    for check in part.failed_checks():
        first = check.note.split(";")[0].removeprefix("wrong answer: ")
        if check.note.startswith("wrong answer:") or first.startswith("shape ["):
            problems.append(f"{check.tensor}: {first}")
    return list(dict.fromkeys(problems))


def _error(message: str) -> str:
    """A case's error without the case file's path (`<file>: could not be checked: ...`)."""
    head, sep, rest = message.partition(": ")
    return rest if sep and head.endswith(".json") else message


def part_feedback(part: Part, first_departure: str = "", show_values: bool = False) -> str:
    """The feedback of one part, a few lines of plain text."""
    state = part.state
    if state == PASS:
        conventions = sorted({c.convention for c in part.checks if c.convention})
        return "correct" + (f" (where correct answers may differ: {'; '.join(conventions)})" if conventions else "")
    if state == INCONCLUSIVE:
        return (
            "could not be judged fully: no reference could judge every entry to the accuracy needed "
            "(the rubric's inconclusive_credit gives its points); nothing was found wrong"
        )
    if state == ERROR:
        return f"could not be checked: {_error(part.errors[0])}"
    if state == NOT_JUDGED:
        return "not judged: no reference checks this part of the case"
    lines = []
    if state == MISSING:
        lines.append(f"{subject(part)}: not provided ({', '.join(part.missing)})")
    for diagnosis, note in _diagnoses(part):
        line = f"{subject(part)} {headline(diagnosis)}"
        if note and diagnosis not in ("unknown", "missing"):
            line += f": {note}"
        lines.append(line)
    lines += [f"your answer: {problem}" for problem in _answer_problems(part)]
    if state == FAIL and first_departure and part.category != TRAINING:
        lines.append(f"where it starts: {first_departure}")
    if show_values:
        lines += [_values_line(c) for c in part.failed_checks()]
    return "\n".join(lines)


def _values_line(check) -> str:
    index = "".join(f"[{i}]" for i in check.worst_index)
    return (
        f"  {check.quantity} {check.tensor}{index}: yours {check.actual:.10g}, reference "
        f"{check.expected_value:.10g} ({check.reference})" + (f"; {check.note}" if check.note else "")
    )
