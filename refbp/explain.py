"""`refbp explain`: the chain-rule decomposition of one gradient entry, with numbers, as the seed does.

For a weight of the output layer: dE/dw = dE/dout x dout/dnet x dnet/dw. For a weight of a
hidden layer, the error reaches its unit along one path per unit of the next layer
(dE/dnet_k x w_kj); the paths are summed into dE/dout before the same three factors.
Every number comes from refbp's own forward pass and chain rule.
"""

from __future__ import annotations

import numpy as np

from refbp import names
from cases import Case, MLPNetwork, format_entry

from .nn import losses
from .nn.mlp import MLP

MAX_EXAMPLES_SHOWN = 4


def number(x: float) -> str:
    """Nine decimals without trailing zeros, as the seed prints (0.74136507, 0.05); tiny values in e-notation."""
    x = float(x)
    if x == 0.0:
        return "0"
    if abs(x) >= 1e-4:
        text = f"{x:.9f}".rstrip("0").rstrip(".")
        return text if text not in ("-0", "") else f"{x:.3e}"
    return f"{x:.6e}"


def explain(case: Case, name: str) -> str:
    if not isinstance(case.network, MLPNetwork):
        raise ValueError(f"{case.id}: --param explains MLP cases; for an RNN use --through-time")
    tensor, index = case.resolve_entry(name)
    return MLPExplanation(case).entry(name, tensor, index)


class MLPExplanation:
    def __init__(self, case: Case):
        self.case = case
        network = case.network
        self.model = MLP(network)
        self.params = {k: np.asarray(v, dtype=np.float64) for k, v in case.params.items()}
        inputs = np.asarray(case.inputs, dtype=np.float64)
        self.cache = self.model.forward(np, self.params, inputs)
        loss = losses.get(case.loss)
        self.loss_value = float(loss.value(np, self.cache.outputs, case.targets))
        # dE/dout and dE/dnet of every layer, by the chain rule, layer after layer backwards.
        depth = network.depth
        self.grad_out = [None] * depth
        self.grad_net = [None] * depth
        grad = loss.gradient(np, self.cache.outputs, case.targets)
        for layer in reversed(range(depth)):
            act = self.model.activations[layer]
            self.grad_out[layer] = grad
            self.grad_net[layer] = act.backward(np, self.cache.nets[layer], self.cache.outs[layer], grad)
            grad = self.grad_net[layer] @ self.params[f"layers.{layer}.weight"]

    def layer_input(self, layer: int):
        return self.cache.inputs if layer == 0 else self.cache.outs[layer - 1]

    def entry(self, label: str, tensor: str, index: tuple) -> str:
        layer = int(tensor.split(".")[1])
        is_weight = tensor.endswith("weight")
        unit = index[0]
        source = index[1] if is_weight else None
        act = self.model.activations[layer]
        full = format_entry(tensor, index)
        title = f"{label} = {full}" if label != full else full
        lines = [f"{self.case.id}: dE/d{label}, the chain rule through unit {unit} of layer {layer} "
                 f"({act.name}), loss {self.case.loss} E = {number(self.loss_value)}", f"  {title}"]
        depth = self.case.network.depth
        batch = self.case.batch
        out_name = f"out[{layer}][{unit}]"
        net_name = f"net[{layer}][{unit}]"
        total = 0.0
        for b in range(batch):
            prefix = f"  example {b}: " if batch > 1 else "  "
            shown = b < MAX_EXAMPLES_SHOWN
            if shown and layer < depth - 1:
                lines += self.paths(layer, unit, b, prefix)
            dE_dout = self.grad_out[layer][b, unit]
            dnet_dw = self.layer_input(layer)[b, source] if is_weight else 1.0
            if is_weight:
                dnet_name = f"out[{layer - 1}][{source}]" if layer > 0 else f"inputs[{source}]"
            else:
                dnet_name = "1 (bias)"
            if act.elementwise:
                slope = act.derivative(np, self.cache.nets[layer][b:b + 1], self.cache.outs[layer][b:b + 1])[0, unit]
                value = dE_dout * slope * dnet_dw
                if shown:
                    lines.append(f"{prefix}dE/d{label} = dE/d{out_name} x d{out_name}/d{net_name} x d{net_name}/d{label}")
                    slope_note = self.slope_note(act.name)
                    lines.append(f"{prefix}  = {number(dE_dout)} x {number(slope)} x {number(dnet_dw)} = {number(value)}"
                                 + (f"   ({slope_note}; d{net_name}/d{label} = {dnet_name})" if slope_note else ""))
            else:
                dE_dnet = self.grad_net[layer][b, unit]
                value = dE_dnet * dnet_dw
                if shown:
                    lines.append(f"{prefix}dE/d{label} = dE/d{net_name} x d{net_name}/d{label}   "
                                 f"({act.name}: dE/dnet = out * (dE/dout - <dE/dout, out>), its Jacobian applied)")
                    lines.append(f"{prefix}  = {number(dE_dnet)} x {number(dnet_dw)} = {number(value)}")
            total += value
        if batch > MAX_EXAMPLES_SHOWN:
            lines.append(f"  ... {batch - MAX_EXAMPLES_SHOWN} more examples")
        if batch > 1:
            lines.append(f"  summed over the batch: dE/d{label} = {number(total)}")
        return "\n".join(lines)

    def paths(self, layer: int, unit: int, b: int, prefix: str) -> list[str]:
        """dE/dout of a hidden unit: one path per unit k of the next layer, dE/dnet_k x w_k,unit, summed."""
        nxt = layer + 1
        weight = self.params[f"layers.{nxt}.weight"]
        terms = [(k, self.grad_net[nxt][b, k], weight[k, unit]) for k in range(weight.shape[0])]
        out_name = f"out[{layer}][{unit}]"
        lines = [f"{prefix}dE/d{out_name} = sum over the {len(terms)} units k of layer {nxt}: "
                 f"dE/dnet[{nxt}][k] x layers.{nxt}.weight[k][{unit}]"]
        shown = terms[:8]
        for k, g, w in shown:
            lines.append(f"{prefix}  via net[{nxt}][{k}]: {number(g)} x {number(w)} = {number(g * w)}")
        if len(terms) > len(shown):
            lines.append(f"{prefix}  ... {len(terms) - len(shown)} more paths")
        parts = " + ".join(number(g * w) for _, g, w in shown).replace("+ -", "- ")
        total = self.grad_out[layer][b, unit]
        lines.append(f"{prefix}dE/d{out_name} (= {parts}{' + ...' if len(terms) > len(shown) else ''}) = {number(total)}")
        return lines

    @staticmethod
    def slope_note(name: str) -> str:
        return f"{name}: {names.ACTIVATIONS[name].slope}"
