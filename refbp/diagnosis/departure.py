"""Where a wrong answer starts: the first layer (or time step) whose forward value or backward error
signal departs from the re-derived reference, for a trace that gives its intermediates and error
signals (a result's `intermediates`/`error_signals`, an adapter's, refbp's own)."""

from __future__ import annotations

from collections.abc import Set as AbstractSet

import numpy as np

from ..trace import Trace
from .signatures import within


def first_departure(
    case, trace: Trace, reference: Trace, atol: float, rtol: float, failed_quantities: AbstractSet[str] = frozenset()
) -> str:
    """One line, e.g. "forward right; backward first wrong at layers.1 (dL/dnet)"; "" when the trace
    gives neither intermediates nor error signals. `failed_quantities`: of the verdict's failed rows."""
    if not trace.intermediates and not trace.error_signals:
        return ""
    steps = _mlp_steps(case) if case.network.kind == "mlp" else _rnn_steps(case)
    parts = []
    for side, items, source, ref_source in (
        ("forward", steps[0], trace.intermediates, reference.intermediates),
        ("backward", steps[1], trace.error_signals, reference.error_signals),
    ):
        given = [item for item in items if item[0] in source]
        if not given:
            parts.append(f"{side} not given")
            continue
        wrong = next(
            (
                where
                for name, index, where in given
                if not within(np.asarray(source[name], dtype=np.float64)[index], ref_source[name][index], atol, rtol)
            ),
            None,
        )
        parts.append(f"{side} right" if wrong is None else f"{side} first wrong at {wrong}")
    if all(part.endswith("right") for part in parts):
        if failed_quantities & {"grads", "input_grads"}:
            parts.append("so the slip is in the step from dL/dnet to the gradients")
        elif failed_quantities & {"params_after", "loss_after"}:
            parts.append("so the slip is in the update (training)")
    return "; ".join(parts)


def _mlp_steps(case):
    depth = case.network.depth
    every = slice(None)
    forward = [(f"layers.{i}.{name}", every, f"layers.{i} ({name})") for i in range(depth) for name in ("net", "out")]
    backward = [
        (f"layers.{i}.{name}", every, f"layers.{i} ({label})")
        for i in reversed(range(depth))
        for name, label in (("grad_out", "dL/dout"), ("grad_net", "dL/dnet"))
    ]
    return forward, backward


def _rnn_steps(case):
    steps = case.steps
    forward = [
        (name, (slice(None), t), f"step {t} ({label})")
        for t in range(steps)
        for name, label in (("rnn.net", "net_t"), ("rnn.h", f"h_{t + 1}"))
    ]
    forward += [("readout.net", slice(None), "the readout (net)"), ("readout.out", slice(None), "the readout (out)")]
    backward = [
        (name, (slice(None), t), f"step {t} ({label})")
        for t in reversed(range(steps))
        for name, label in (("rnn.grad_h", f"dL/dh_{t + 1}"), ("rnn.grad_net", "dL/dnet_t"))
    ]
    backward.append(("rnn.grad_h0", slice(None), "h_0 (dL/dh_0)"))
    return forward, backward
