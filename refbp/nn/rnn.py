"""The Elman RNN, parametrised as torch.nn.RNN (batch first), with backpropagation through time.

    net_t = x_t @ W_ih.T + b_ih + h_{t-1} @ W_hh.T + b_hh,   h_t = f(net_t)
    y_t   = g(h_t @ W_o.T + b_o)        (every step, or the last step only)

Step t needs h_{t-1}, and the error signal of step t needs that of step t+1: the
recurrence is the one loop over time, forward and backward. Everything that does not
depend on the previous step is batched over time (the seed: parallel within a step,
never across steps): the input projections of all steps are one matrix product, the
readout is one dense layer over every step, and each weight gradient, a sum over time
and batch, is one matrix product.

Truncated BPTT (`network.truncate = k`): the steps are cut into chunks of k, steps
1..k, k+1..2k, ...; the hidden state entering a chunk, h_{ck} for c >= 1, is treated as a
constant (torch's `detach()`), so no gradient crosses a chunk boundary. Its value still
enters the next step's `net` and that step's term of the W_hh gradient.

Notation: h_t is the state after t steps (h_0 the initial state). The code counts steps
from 0: `states[:, t]` is h_{t+1}, and `detached_before(t)` asks about h_t, the state
entering step t.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import activations, dense
from .backend import serial_blas
from .gradients import Gradients


@dataclass
class RNNCache:
    # arrays of the backend's namespace (numpy, or torch through array-api-compat)
    inputs: Any  # [B, T, I]
    initial: Any  # h_0 [B, H] (zeros when the case has none)
    has_h0: bool
    nets: Any  # [B, T, H]  pre-activations
    states: Any  # [B, T, H]  h_1 .. h_T
    readout_inputs: Any  # [B, T, H] (every_step) or [B, H] (last_step)
    readout_net: Any
    readout_out: Any

    @property
    def outputs(self):
        return self.readout_out


@dataclass
class ThroughTime:
    """The backward pass's per-step results."""

    grad_nets: object  # dE/dnet_t, [B, T, H]
    grad_states: object  # [:, t]: dE/dh_{t+1}, [B, T, H], from the readout and later steps (within the chunk)
    grad_initial: object  # dE/dh_0, [B, H]


class RNN:
    def __init__(self, network):
        self.network = network
        self.nonlinearity = activations.get(network.nonlinearity)
        self.output_activation = activations.get(network.output_activation)

    # ---- forward ---------------------------------------------------------------------
    def forward(self, xp, params, inputs, h0=None) -> RNNCache:
        # Every step's input projection at once, time-major [T, B, H] so that each step's slice
        # is contiguous.
        projected = xp.permute_dims(inputs, (1, 0, 2)) @ params["rnn.weight_ih"].T
        bias = self.step_bias(params)
        if bias is not None:
            projected += bias
        weight_hh = params["rnn.weight_hh"]
        initial = h0 if h0 is not None else xp.zeros_like(projected[0])
        h = initial
        nets, states = [], []
        with serial_blas(xp):
            for t in range(inputs.shape[1]):
                net = h @ weight_hh.T
                net += projected[t]  # in place: the product's own fresh array
                h = self.nonlinearity.forward(xp, net)
                nets.append(net)
                states.append(h)
        nets, states = xp.stack(nets, axis=1), xp.stack(states, axis=1)
        readout_inputs = states if self.network.readout == "every_step" else states[:, -1, :]
        readout_net, readout_out = dense.forward(
            xp, readout_inputs, params["readout.weight"], params.get("readout.bias"), self.output_activation
        )
        return RNNCache(inputs, initial, h0 is not None, nets, states, readout_inputs, readout_net, readout_out)

    def step_bias(self, params):
        """b_ih + b_hh, added once to every step's input projection (None without biases)."""
        if not self.network.bias:
            return None
        return params["rnn.bias_ih"] + params["rnn.bias_hh"]

    # ---- backward --------------------------------------------------------------------
    def backward(self, xp, params, cache: RNNCache, grad_output, need_input_grads=False) -> Gradients:
        """dL/d(every parameter) from dL/d(outputs), and the error signals of every step."""
        readout = dense.backward(
            xp,
            cache.readout_inputs,
            params["readout.weight"],
            cache.readout_net,
            cache.readout_out,
            grad_output,
            self.output_activation,
            has_bias=self.network.readout_bias,
            need_inputs=True,
        )
        through = self.through_time(xp, params, cache, readout.inputs)

        flat_grad_nets = _flatten(xp, through.grad_nets)
        grads = {
            "rnn.weight_ih": flat_grad_nets.T @ _flatten(xp, cache.inputs),
            "rnn.weight_hh": flat_grad_nets.T @ _flatten(xp, self.previous_states(xp, cache)),
        }
        if self.network.bias:
            summed = xp.sum(flat_grad_nets, axis=0)
            grads["rnn.bias_ih"] = summed
            grads["rnn.bias_hh"] = summed
        grads["readout.weight"] = readout.weight
        if self.network.readout_bias:
            grads["readout.bias"] = readout.bias
        input_grads = {}
        if need_input_grads:
            input_grads["inputs"] = through.grad_nets @ params["rnn.weight_ih"]
            if cache.has_h0:
                input_grads["h0"] = through.grad_initial
        signals = {
            "rnn.grad_net": through.grad_nets,
            "rnn.grad_h": through.grad_states,
            "rnn.grad_h0": through.grad_initial,
        }
        return Gradients(grads, input_grads, signals)

    def through_time(self, xp, params, cache: RNNCache, grad_readout_inputs) -> ThroughTime:
        """The recurrence backwards: dE/dh_t = (readout at t) + dE/dnet_{t+1} @ W_hh, t = T..1.

        h_t is used twice, by the readout and by step t+1, so its gradient accumulates both:
        every_step readouts' `grad_readout_inputs` [B, T, H] is added to in place and
        becomes dE/dh_t (the caller hands over an array of its own).
        """
        steps = cache.nets.shape[1]
        weight_hh = params["rnn.weight_hh"]
        if self.network.readout == "every_step":
            grad_states = grad_readout_inputs
        else:
            grad_states = xp.zeros_like(cache.states)
            grad_states[:, -1, :] = grad_readout_inputs
        carried = None  # dE/dh_t arriving from step t+1
        grad_nets = [None] * steps
        with serial_blas(xp):
            for t in reversed(range(steps)):
                grad_h = grad_states[:, t, :]
                if carried is not None:
                    grad_h += carried
                grad_net = self.nonlinearity.backward(xp, cache.nets[:, t, :], cache.states[:, t, :], grad_h)
                grad_nets[t] = grad_net
                carried = self.recurrent_backward(xp, grad_net, weight_hh)
                if self.detached_before(t):
                    carried = xp.zeros_like(carried)
        return ThroughTime(xp.stack(grad_nets, axis=1), grad_states, carried)

    def recurrent_backward(self, xp, grad_net, weight_hh):
        """dE/dh_{t-1} through net_t = ... + h_{t-1} @ W_hh.T."""
        return grad_net @ weight_hh

    def detached_before(self, t: int) -> bool:
        """True when the state entering step t (0-based) is a chunk boundary of truncated BPTT."""
        k = self.network.truncate
        return k is not None and t > 0 and t % k == 0

    def previous_states(self, xp, cache: RNNCache):
        """h_{t-1} for every step t: h_0, h_1, ..., h_{T-1} ([B, T, H]), the input of W_hh."""
        return xp.concat([cache.initial[:, None, :], cache.states[:, :-1, :]], axis=1)

    # ---- names for the checker -------------------------------------------------------
    def intermediates(self, cache: RNNCache) -> dict:
        return {
            "rnn.net": cache.nets,
            "rnn.h": cache.states,
            "readout.net": cache.readout_net,
            "readout.out": cache.readout_out,
        }


def _flatten(xp, array):
    """[B, T, n] -> [B*T, n]: time steps count as examples in a weight gradient's sum."""
    return xp.reshape(array, (-1, array.shape[-1]))
