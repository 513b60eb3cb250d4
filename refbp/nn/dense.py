"""One dense layer: `net = x @ W.T + b` (the seed's e), `out = f(net)` (the seed's f(e)).

All examples of a batch, and all neurons of the layer, in one matrix product each: the
parallelism the seed allows within a layer. Leading axes beyond the batch (an RNN's time
steps) are folded into the batch.
"""

from __future__ import annotations

from typing import NamedTuple


class DenseGrads(NamedTuple):
    net: object  # dL/dnet, the error signal of each neuron
    weight: object  # dL/dW, summed over every example
    bias: object  # dL/db (None without bias)
    inputs: object  # dL/dx, sent back to the layer before (None when not asked for)


def forward(xp, x, weight, bias, activation):
    net = x @ weight.T
    if bias is not None:
        net += bias  # in place: net is the product's own fresh array, and one large temporary fewer
    return net, activation.forward(xp, net)


def backward(xp, x, weight, net, out, grad_out, activation, has_bias=True, need_inputs=True) -> DenseGrads:
    grad_net = activation.backward(xp, net, out, grad_out)
    flat_net = xp.reshape(grad_net, (-1, grad_net.shape[-1]))
    flat_x = xp.reshape(x, (-1, x.shape[-1]))
    if flat_x.shape[0] == 1:
        # One example: dL/dW is an outer product; broadcasting it is several times faster
        # than a matrix product with an inner size of 1 (and the same numbers: one product each).
        grad_weight = flat_net.T * flat_x
    else:
        grad_weight = flat_net.T @ flat_x
    grad_bias = xp.sum(flat_net, axis=0) if has_bias else None
    grad_inputs = grad_net @ weight if need_inputs else None
    return DenseGrads(grad_net, grad_weight, grad_bias, grad_inputs)
