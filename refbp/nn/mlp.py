"""The multilayer perceptron: layer after layer forward, the chain rule backward.

Layer l+1 needs layer l's `out`, and layer l's error signal needs layer l+1's: the loops
below run over layers, never over examples or neurons (the seed: parallel within a layer,
never across layers).
"""

from __future__ import annotations

from dataclasses import dataclass

from . import activations, dense
from .gradients import Gradients


@dataclass
class MLPCache:
    inputs: object
    nets: list
    outs: list

    @property
    def outputs(self):
        return self.outs[-1]


class MLP:
    def __init__(self, network):
        self.network = network
        self.activations = [activations.get(name) for name in network.activations]

    def forward(self, xp, params, inputs, h0=None) -> MLPCache:
        nets, outs = [], []
        x = inputs
        for i, activation in enumerate(self.activations):
            net, x = dense.forward(xp, x, params[f"layers.{i}.weight"], params.get(f"layers.{i}.bias"), activation)
            nets.append(net)
            outs.append(x)
        return MLPCache(inputs, nets, outs)

    def backward(self, xp, params, cache: MLPCache, grad_output, need_input_grads=False) -> Gradients:
        """dL/d(every parameter) from dL/d(outputs), and each layer's error signals dL/dout, dL/dnet."""
        grads, signals = {}, {}
        grad_out = grad_output
        for i in reversed(range(len(self.activations))):
            x = cache.inputs if i == 0 else cache.outs[i - 1]
            layer = dense.backward(
                xp,
                x,
                params[f"layers.{i}.weight"],
                cache.nets[i],
                cache.outs[i],
                grad_out,
                self.activations[i],
                has_bias=self.network.bias,
                need_inputs=i > 0 or need_input_grads,
            )
            signals[f"layers.{i}.grad_out"], signals[f"layers.{i}.grad_net"] = grad_out, layer.net
            grads[f"layers.{i}.weight"] = layer.weight
            if self.network.bias:
                grads[f"layers.{i}.bias"] = layer.bias
            grad_out = layer.inputs
        input_grads = {"inputs": grad_out} if need_input_grads else {}
        return Gradients(grads, input_grads, signals)

    def intermediates(self, cache: MLPCache) -> dict:
        named = {}
        for i, (net, out) in enumerate(zip(cache.nets, cache.outs)):
            named[f"layers.{i}.net"] = net
            named[f"layers.{i}.out"] = out
        return named
