"""`refbp explain CASE --through-time`: how large the gradient reaching each hidden state is.

||dE/dh_t|| for t = 0..T: the gradient arriving at h_t from the readout at step t and
from every later step through W_hh (h_0 is the initial state). Each step back multiplies
it by diag(f'(net_t)) W_hh, so it shrinks or grows geometrically when those factors are
below or above 1: vanishing and exploding gradients. The numbers come from refbp's own
backward pass through time (truncated, when the case truncates).
"""

from __future__ import annotations

import numpy as np

from cases import Case, RNNNetwork

from .nn import dense, losses
from .nn.rnn import RNN


def gradient_norms_through_time(case: Case) -> np.ndarray:
    """||dE/dh_t|| (Frobenius over batch and hidden units) for t = 0..T, in float64."""
    if not isinstance(case.network, RNNNetwork):
        raise ValueError(f"{case.id}: --through-time explains RNN cases; this one is {case.network.kind}")
    model = RNN(case.network)
    params = {k: np.asarray(v, dtype=np.float64) for k, v in case.params.items()}
    inputs = np.asarray(case.inputs, dtype=np.float64)
    h0 = None if case.h0 is None else np.asarray(case.h0, dtype=np.float64)
    cache = model.forward(np, params, inputs, h0)
    loss = losses.get(case.loss)
    grad_outputs = loss.gradient(np, cache.outputs, case.targets)
    readout = dense.backward(np, cache.readout_inputs, params["readout.weight"], cache.readout_net,
                             cache.readout_out, grad_outputs, model.output_activation,
                             has_bias=case.network.readout_bias, need_inputs=True)
    through = model.through_time(np, params, cache, readout.inputs)
    per_state = [through.grad_initial] + [through.grad_states[:, t, :] for t in range(case.steps)]
    return np.array([float(np.linalg.norm(g)) for g in per_state])


def explain_through_time(case: Case) -> str:
    norms = gradient_norms_through_time(case)
    network = case.network
    steps = len(norms) - 1
    lines = [f"{case.id}: ||dE/dh_t|| through time, {network.describe()}, {steps} steps, "
             f"readout {network.readout}, loss {case.loss}"]
    if network.truncate is not None:
        cuts = ", ".join(str(t) for t in range(network.truncate, steps, network.truncate)) or "none within T"
        lines.append(f"  truncated BPTT every {network.truncate} steps: h_t gets no gradient from step t+1 "
                     f"at t = {cuts} (it enters the next chunk as a constant)")
    lines.append("  (gradient reaching the hidden state h_t from the readout and all later steps; h_0 is the initial state)")
    peak = norms.max() if norms.size else 0.0
    for t, value in enumerate(norms):
        bar = "#" * _bar_length(value, peak)
        lines.append(f"  t = {t:>4}  ||dE/dh_t|| = {value:.6e}  {bar}")
    first, last = norms[0], norms[-1]
    if first > 0 and last > 0:
        ratio = first / last
        per_step = ratio ** (1.0 / steps) if steps else 1.0
        trend = "grows" if ratio > 1 else "shrinks"
        lines.append(f"  ||dE/dh_0|| / ||dE/dh_T|| = {ratio:.3e}: going back in time the gradient {trend} "
                     f"by a factor {per_step:.4g} per step on average")
    return "\n".join(lines)


def _bar_length(value: float, peak: float, width: int = 40) -> int:
    """A log-scale bar: `width` characters at the peak, one per decade below it fewer by 4."""
    if value <= 0 or peak <= 0:
        return 0
    return max(0, width - int(round(4 * np.log10(peak / value))))
