"""`refbp explain`: one gradient entry of an MLP taken apart by the chain rule, with the backward's own numbers.

For a weight of the output layer: dE/dw = dE/dout x dout/dnet x dnet/dw. For a weight of a
hidden layer, the error reaches its unit along one path per unit k of the next layer
(dE/dnet_k x w_k,unit); the paths are summed into dE/dout before the same three factors.

Nothing here re-runs the chain rule: dE/dout and dE/dnet are the error signals refbp's
backward recorded (`Trace.error_signals`), net and out its forward's intermediates, and each
result line ends on the backward's own gradient. Only two things are formatted from them:
a path term dE/dnet_k x w_k,unit, and a per-example term dE/dnet x dnet/dw of a batch (the
backward sums those in one matrix product). The local slope dout/dnet is the activation's
derivative at the recorded net and out; the factors of a line whose backward went wrong do
not multiply to its result, so a wrong backward shows.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from refbp.cases import Case, MLPNetwork, format_entry

from . import names
from .nn import activations
from .nn.runner import compute_trace
from .trace import Trace

MAX_EXAMPLES_SHOWN = 4
MAX_PATHS_SHOWN = 8


def number(x: float) -> str:
    """Nine decimals without trailing zeros, as the seed prints (0.74136507, 0.05); tiny and huge values in
    e-notation."""
    x = float(x)
    if x == 0.0:
        return "0"
    if abs(x) >= 1e9:  # huge (or not finite: inf, nan): never hundreds of digits
        return f"{x:.6e}"
    if abs(x) >= 1e-4:
        text = f"{x:.9f}".rstrip("0").rstrip(".")
        return text if text not in ("-0", "") else f"{x:.3e}"
    return f"{x:.6e}"


def in_dtype(case: Case) -> str:
    """ ", computed in float32" for a float32 case: its numbers are float32's, not float64's."""
    return "" if case.dtype == "float64" else f", computed in {case.dtype}"


def trace_of(case: Case) -> Trace:
    """refbp's forward and backward of `case` in its dtype; its training is left out (explain
    shows the gradient at the case's parameters, which training does not change)."""
    return compute_trace(replace(case, train=None))


def explain(case: Case, name: str, trace: Trace | None = None) -> str:
    """The decomposition of dE/d`name` (an alias or `tensor[i][j]`) from `trace` (default: refbp's)."""
    if not isinstance(case.network, MLPNetwork):
        raise ValueError(f"{case.id}: --param explains MLP cases; for an RNN use --through-time")
    tensor, index = case.resolve_entry(name)
    return MLPExplanation(case, trace if trace is not None else trace_of(case)).entry(name, tensor, index)


class MLPExplanation:
    """`own_slopes`: take the local slope as the trace's own dE/dnet / dE/dout (an implementation's
    backward, whatever derivative it used) rather than the activation's derivative at net and out."""

    def __init__(self, case: Case, trace: Trace, own_slopes: bool = False):
        if not trace.error_signals:
            raise ValueError(f"{case.id}: the trace carries no error signals to explain")
        self.case = case
        self.trace = trace
        network = case.network
        if not isinstance(network, MLPNetwork):
            raise ValueError(f"{case.id}: this explains MLP cases (an RNN's: refbp.explain_rnn)")
        self.activations = [activations.get(a) for a in network.activations]
        depth = network.depth
        self.net = [trace.intermediates[f"layers.{i}.net"] for i in range(depth)]
        self.out = [trace.intermediates[f"layers.{i}.out"] for i in range(depth)]
        self.grad_out = [trace.error_signals[f"layers.{i}.grad_out"] for i in range(depth)]
        self.grad_net = [trace.error_signals[f"layers.{i}.grad_net"] for i in range(depth)]
        self.own_slopes = own_slopes
        # The numbers the computation used: the case's, in the case's dtype.
        self.inputs = np.asarray(case.inputs, dtype=case.dtype).astype(np.float64)

    def weight(self, layer: int) -> np.ndarray:
        return np.asarray(self.case.params[f"layers.{layer}.weight"], dtype=self.case.dtype).astype(np.float64)

    def layer_input(self, layer: int):
        return self.inputs if layer == 0 else self.out[layer - 1]

    def entry(self, label: str, tensor: str, index: tuple) -> str:
        layer = int(tensor.split(".")[1])
        is_weight = tensor.endswith("weight")
        unit = index[0]
        source = index[1] if is_weight else None
        act = self.activations[layer]
        full = format_entry(tensor, index)
        title = f"{label} = {full}" if label != full else full
        loss = math.nan if self.trace.loss is None else self.trace.loss
        lines = [
            f"{self.case.id}: dE/d{label}, the chain rule through unit {unit} of layer {layer} "
            f"({act.name}), loss {self.case.loss} E = {number(loss)}{in_dtype(self.case)}",
            f"  {title}",
        ]
        batch = self.case.batch
        gradient = self.trace.grads[tensor][index]  # the backward's own sum over the batch
        out_name = f"out[{layer}][{unit}]"
        net_name = f"net[{layer}][{unit}]"
        if is_weight:
            dnet_name = f"out[{layer - 1}][{source}]" if layer > 0 else f"inputs[{source}]"
        else:
            dnet_name = "1 (bias)"
        for b in range(min(batch, MAX_EXAMPLES_SHOWN)):
            prefix = f"  example {b}: " if batch > 1 else "  "
            if layer < len(self.net) - 1:  # the network's depth
                lines += self.paths(layer, unit, b, prefix)
            dnet_dw = self.layer_input(layer)[b, source] if is_weight else 1.0
            value = self.grad_net[layer][b, unit] * dnet_dw if batch > 1 else gradient
            if act.elementwise:
                dE_dout = self.grad_out[layer][b, unit]
                slope = act.derivative(np, self.net[layer][b : b + 1], self.out[layer][b : b + 1])[0, unit]
                if self.own_slopes and dE_dout != 0:
                    slope = self.grad_net[layer][b, unit] / dE_dout
                lines.append(f"{prefix}dE/d{label} = dE/d{out_name} x d{out_name}/d{net_name} x d{net_name}/d{label}")
                lines.append(
                    f"{prefix}  = {number(dE_dout)} x {number(slope)} x {number(dnet_dw)} = {number(value)}"
                    f"   ({act.name}: {names.ACTIVATIONS[act.name].slope}; d{net_name}/d{label} = {dnet_name})"
                )
            else:
                lines.append(
                    f"{prefix}dE/d{label} = dE/d{net_name} x d{net_name}/d{label}   "
                    f"({act.name}: {names.ACTIVATIONS[act.name].slope}, its Jacobian applied)"
                )
                lines.append(
                    f"{prefix}  = {number(self.grad_net[layer][b, unit])} x {number(dnet_dw)} = {number(value)}"
                )
        if batch > MAX_EXAMPLES_SHOWN:
            lines.append(f"  ... {batch - MAX_EXAMPLES_SHOWN} more examples")
        if batch > 1:
            lines.append(f"  summed over the batch: dE/d{label} = {number(gradient)}")
        return "\n".join(lines)

    def paths(self, layer: int, unit: int, b: int, prefix: str) -> list[str]:
        """dE/dout of a hidden unit: one path per unit k of the next layer, dE/dnet_k x w_k,unit, summed."""
        nxt = layer + 1
        weight = self.weight(nxt)
        terms = [(k, self.grad_net[nxt][b, k], weight[k, unit]) for k in range(weight.shape[0])]
        out_name = f"out[{layer}][{unit}]"
        lines = [
            f"{prefix}dE/d{out_name} = sum over the {len(terms)} units k of layer {nxt}: "
            f"dE/dnet[{nxt}][k] x layers.{nxt}.weight[k][{unit}]"
        ]
        shown = terms[:MAX_PATHS_SHOWN]
        for k, g, w in shown:
            lines.append(f"{prefix}  via net[{nxt}][{k}]: {number(g)} x {number(w)} = {number(g * w)}")
        if len(terms) > len(shown):
            lines.append(f"{prefix}  ... {len(terms) - len(shown)} more paths")
        parts = " + ".join(number(g * w) for _, g, w in shown).replace("+ -", "- ")
        total = self.grad_out[layer][b, unit]  # the backward's own sum of the paths
        lines.append(
            f"{prefix}dE/d{out_name} (= {parts}{' + ...' if len(terms) > len(shown) else ''}) = {number(total)}"
        )
        return lines
