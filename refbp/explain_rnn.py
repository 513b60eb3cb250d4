"""`refbp explain CASE --through-time`: how large the gradient reaching each hidden state is.

||dE/dh_t|| for t = 0..T: the gradient arriving at h_t from the readout at step t and
from every later step through W_hh (h_0 is the initial state). Each step back multiplies
it by diag(f'(net_t)) W_hh, so it shrinks or grows geometrically when those factors are
below or above 1: vanishing and exploding gradients. The numbers are the norms of the
dE/dh_t that refbp's backward pass through time recorded (truncated, when the case
truncates): `Trace.gradient_norms_through_time`, the same numbers the verdict carries and
the report draws.
"""

from __future__ import annotations

import numpy as np

from refbp.cases import Case, RNNNetwork

from .explain import in_dtype, trace_of
from .trace import Trace


def explain_through_time(case: Case, trace: Trace | None = None) -> str:
    """One line per step t = 0..T from `trace` (default: refbp's trace of `case`)."""
    if not isinstance(case.network, RNNNetwork):
        raise ValueError(f"{case.id}: --through-time explains RNN cases; this one is {case.network.kind}")
    found = (trace if trace is not None else trace_of(case)).gradient_norms_through_time()
    if found is None:
        raise ValueError(f"{case.id}: the trace carries no error signals through time")
    norms = np.array(found)
    network = case.network
    steps = len(norms) - 1
    lines = [
        f"{case.id}: ||dE/dh_t|| through time, {network.describe()}, {steps} steps, "
        f"readout {network.readout}, loss {case.loss}{in_dtype(case)}"
    ]
    if network.truncate is not None:
        cuts = ", ".join(str(t) for t in range(network.truncate, steps, network.truncate)) or "none within T"
        lines.append(
            f"  truncated BPTT every {network.truncate} steps: h_t gets no gradient from step t+1 "
            f"at t = {cuts} (it enters the next chunk as a constant)"
        )
    lines.append(
        "  (gradient reaching the hidden state h_t from the readout and all later steps; h_0 is the initial state)"
    )
    peak = norms.max() if norms.size else 0.0
    for t, value in enumerate(norms):
        bar = "#" * _bar_length(value, peak)
        lines.append(f"  t = {t:>4}  ||dE/dh_t|| = {value:.6e}  {bar}")
    first, last = norms[0], norms[-1]
    if first > 0 and last > 0:
        ratio = first / last
        per_step = ratio ** (1.0 / steps) if steps else 1.0
        trend = "grows" if ratio > 1 else "shrinks"
        lines.append(
            f"  ||dE/dh_0|| / ||dE/dh_T|| = {ratio:.3e}: going back in time the gradient {trend} "
            f"by a factor {per_step:.4g} per step on average"
        )
    return "\n".join(lines)


def _bar_length(value: float, peak: float, width: int = 40) -> int:
    """A log-scale bar: `width` characters at the peak, one per decade below it fewer by 4."""
    if value <= 0 or peak <= 0:
        return 0
    return max(0, width - round(4 * np.log10(peak / value)))
