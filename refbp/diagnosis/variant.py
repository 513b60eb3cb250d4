"""`Variant`: which classic bug (if any) a re-derived reference computes with; the default is no bug."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Variant:
    """Switches of the re-derivation (refbp.diagnosis.mlp, .rnn, .training); each names one slip."""

    # The activation's derivative: sigmoid-twice, sigmoid-on-net, tanh-on-net, softmax-elementwise.
    activation: str = ""
    # dL/doutputs: mse-without-mean, cross-entropy-without-softmax, bce-on-logits, bce-shortcut,
    # probabilities-as-classes, summed and summed-examples (a mean loss), averaged-examples,
    # averaged-values (a summed loss).
    loss: str = ""
    # One path only into a hidden unit: "first" (through unit 0 of the next layer) or "same" (unit j
    # only); or "transposed": the error sent back through W^T (square layers).
    paths: str = ""
    # The parameter gradients of this one example (not summed over the batch).
    example: int | None = None
    # BPTT: first-step-skipped, no-recurrent, current-state-in-whh, cut-late.
    rnn: str = ""
    # Truncated BPTT every `truncate` steps where the case says otherwise.
    truncate: int | None = None
    # Training: eager-update, dampened-momentum, dampened-from-zero, adam-uncorrected, adam-no-power,
    # decay-twice, no-decay.
    training: str = ""


CORRECT = Variant()
