"""`refbp fuzz --layer`: a layer's inputs drawn by hypothesis (shapes first, then the numbers, from
refbp.testing.strategies' value ranges: ordinary, large, tiny, near a kink) and each checked as
`refbp check --layer` checks an input set of the library (refbp.layer.check). The same seed draws
the same inputs. The relu family's inputs are never exactly 0 (there correct conventions differ:
docs/formats.md section 4.2); the upstream gradient is never all zeros."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from hypothesis import HealthCheck, Phase, Verbosity, given, seed, settings
from hypothesis import strategies as st

from ..check.verdict import CaseVerdict
from ..testing.strategies import VALUE_RANGES, arrays
from .check import check_example
from .declaration import Bound
from .functions import ACTIVATIONS, KINKED, LOSSES, Example, is_loss


@dataclass
class LayerFuzz:
    examples: int = 0
    failed: list[CaseVerdict] = field(default_factory=list)
    inconclusive: int = 0
    # (function, layout, the input set) of each failed verdict, in order: what `--save-failures`
    # writes as refbp-layer-case/1 files (refbp.layer.save)
    failed_inputs: list[tuple] = field(default_factory=list)


def fuzz_layers(bound: list[Bound], name: str, examples: int = 50, fuzz_seed: int = 0) -> LayerFuzz:
    """`examples` drawn input sets per declared function, each checked; the failed verdicts kept."""
    found = LayerFuzz()
    for layer in bound:
        drawn: list[Example] = []

        @seed(fuzz_seed)
        @settings(
            max_examples=examples,
            database=None,
            deadline=None,
            phases=(Phase.generate,),
            suppress_health_check=list(HealthCheck),
            verbosity=Verbosity.quiet,
        )
        @given(layer_examples(layer.function, layer.layout))
        def record(example):
            drawn.append(example)  # noqa: B023 (called at once, inside this iteration)

        record()
        for index, example in enumerate(drawn):
            example = Example(f"{example.label}-{index}", example.inputs, example.upstream)
            verdict = check_example(layer, example, name)
            found.examples += 1
            if verdict.state.value == "fail":
                found.failed.append(verdict)
                found.failed_inputs.append((layer.function, layer.layout, example))
            found.inconclusive += verdict.state.value == "inconclusive"
    return found


@st.composite
def layer_examples(draw, function: str, layout: str = "out_in") -> Example:
    """One input set of `function`: sizes, a value range, the inputs, a random upstream gradient."""
    batch, d, m = draw(st.integers(1, 6)), draw(st.integers(1, 5)), draw(st.integers(2, 5))
    values = draw(st.sampled_from(tuple(VALUE_RANGES)))
    x = draw(arrays((batch, d if function == "affine" else m), values=values))
    if function in KINKED:
        x = np.where(x == 0.0, 1e-7, x)  # never at the kink itself
    inputs = {"x": x}
    if function == "affine":
        bound = 1.0 / math.sqrt(d)
        w = draw(arrays((m, d), values=(1e-3 * bound, bound)))
        inputs |= {"w": w if layout == "out_in" else w.T.copy(), "b": draw(arrays((m,)))}
    elif function == "bce":
        inputs = {
            "x": draw(arrays((batch, m), values=(0.01, 0.49))) + 0.5,
            "y": np.abs(draw(arrays((batch, m), values=(0.0, 1.0)))),
        }
    elif function in ("cross_entropy", "softmax_cross_entropy"):
        inputs["y"] = np.array(draw(st.lists(st.integers(0, m - 1), min_size=batch, max_size=batch)), dtype=np.int64)
    elif function in LOSSES:
        inputs["y"] = draw(arrays((batch, m), values=values))
    elif function not in ACTIVATIONS:  # rnn_step, rnn: the recurrence on ordinary values (tanh saturates)
        steps, h = draw(st.integers(1, 4)), draw(st.integers(1, 4))
        bound = 1.0 / math.sqrt(h)
        weights = {
            "wx": draw(arrays((h, d), values=(1e-3 * bound, bound))),
            "wh": draw(arrays((h, h), values=(1e-3 * bound, bound))),
        }
        inputs = {
            "x": draw(arrays((batch, d) if function == "rnn_step" else (batch, steps, d))),
            **{k: v if layout == "out_in" else v.T.copy() for k, v in weights.items()},
            "b": draw(arrays((h,))),
            ("h" if function == "rnn_step" else "h0"): draw(arrays((batch, h))),
        }
    upstream = (
        draw(st.floats(0.25, 4.0))
        if is_loss(function)
        else draw(arrays(_output_shape(function, inputs, layout)).filter(lambda a: bool(np.any(a))))
    )
    return Example(f"{function}-b{batch}-{values}", inputs, upstream)


def _output_shape(function: str, inputs: dict, layout: str) -> tuple[int, ...]:
    if function == "affine":
        return inputs["x"].shape[0], inputs["w"].shape[0 if layout == "out_in" else 1]
    if function == "rnn_step":
        return inputs["h"].shape
    if function == "rnn":
        return inputs["x"].shape[:2] + (inputs["h0"].shape[1],)
    return inputs["x"].shape
