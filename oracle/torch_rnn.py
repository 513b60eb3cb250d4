"""The RNN reference: torch.nn.RNN itself with the case's weights, a torch.nn.Linear readout.

Nothing here imports refbp.nn. The outputs and every gradient come from torch.nn.RNN's
own kernel and autograd. Built through refbp.oracle.torch_modules.build_module.

Truncated BPTT (`network.truncate = k`): torch.nn.RNN runs on chunks of k steps, [0, k),
[k, 2k), ..., and the hidden state handed from one chunk to the next is `detach()`ed, so
no gradient crosses a chunk boundary (the common way truncated BPTT is written in torch).

torch.nn.RNN does not expose its pre-activations. `rnn.net` is recorded outside the
autograd graph from torch.nn.RNN's own hidden states and weights,
net_t = x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh, so it never influences the gradients.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .conventions import KINKED_WITH_CHOICE, RightSlopeActivation
from .torch_functions import DTYPE, activation_module


class RNNModule(torch.nn.Module):
    def __init__(self, network, dtype: torch.dtype = DTYPE, device=None, right_slope: bool = False):
        super().__init__()
        self.network = network
        # relu'(0) = 1 (refbp.oracle.conventions): torch.nn.RNN's kernel takes 0, so the steps are
        # then run one by one with that activation (`stepwise`).
        self.right_slope = right_slope and network.nonlinearity in KINKED_WITH_CHOICE
        self.rnn = torch.nn.RNN(
            network.input_size,
            network.hidden_size,
            num_layers=1,
            nonlinearity=network.nonlinearity,
            bias=network.bias,
            batch_first=True,
            dtype=dtype,
            device=device,
        )
        self.readout = torch.nn.Linear(
            network.hidden_size, network.output_size, bias=network.readout_bias, dtype=dtype, device=device
        )
        self.output_activation = activation_module(network.output_activation)
        if right_slope and network.output_activation in KINKED_WITH_CHOICE:
            self.output_activation = RightSlopeActivation(network.output_activation)

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        """The case's names: torch.nn.RNN's `weight_ih_l0` (layer 0 of 1) is the case's `rnn.weight_ih`."""
        for name, parameter in super().named_parameters(prefix, recurse, remove_duplicate):
            yield name.removesuffix("_l0"), parameter

    def forward(self, x, h0=None, record=None, held_states=None, params=None):
        """`held_states` {t: [B, H]}: the state entering chunk-start step t, held constant (see
        torch_loss). `params` ({case name: tensor}): computed with these tensors in place of the
        module's own (a function of the parameters, as torch.autograd.gradcheck wants), through
        torch.nn.RNN's own kernel and torch.nn.functional.linear."""
        states = self.run_rnn(x, h0, held_states, params)
        readout_inputs = states if self.network.readout == "every_step" else states[:, -1, :]
        if params is None:
            net = self.readout(readout_inputs)
        else:
            net = F.linear(readout_inputs, params["readout.weight"], params.get("readout.bias"))
        out = self.output_activation(net)
        if record is not None:
            record["rnn.net"] = self.pre_activations(x, h0, states, held_states)
            record["rnn.h"] = states
            record["readout.net"] = net
            record["readout.out"] = out
        return out

    def run_rnn(self, x, h0, held_states=None, params=None):
        """All hidden states [B, T, H]; with truncation, chunk by chunk with the state detached between."""
        hidden = None if h0 is None else h0.unsqueeze(0)  # torch.nn.RNN wants [layers, B, H]
        chunk = self.network.truncate or x.shape[1]
        pieces = []
        for start in range(0, x.shape[1], chunk):
            if start > 0:
                hidden = held_states[start].unsqueeze(0) if held_states else hidden.detach()
            if self.right_slope:
                states, hidden = self.stepwise(x[:, start : start + chunk, :], hidden, params)
            elif params is None:
                states, hidden = self.rnn(x[:, start : start + chunk, :], hidden)
            else:
                states, hidden = self.kernel(x[:, start : start + chunk, :], hidden, params)
            pieces.append(states)
        return pieces[0] if len(pieces) == 1 else torch.cat(pieces, dim=1)

    def kernel(self, x, hidden, params):
        """torch.nn.RNN's own kernel (the one its forward calls) on the given weights."""
        if hidden is None:
            hidden = torch.zeros(1, x.shape[0], self.network.hidden_size, dtype=x.dtype, device=x.device)
        weights = [
            params[f"rnn.{name}"]
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
            if f"rnn.{name}" in params
        ]
        run = torch.rnn_tanh if self.network.nonlinearity == "tanh" else torch.rnn_relu
        return run(x, hidden, weights, self.network.bias, 1, 0.0, False, False, True)

    def stepwise(self, x, hidden, params=None):
        """The recurrence step by step, h_t = relu(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) with
        relu'(0) = 1: the same function as torch.nn.RNN's kernel, another choice at the kink."""
        params = params or {f"rnn.{name.removesuffix('_l0')}": p for name, p in self.rnn.named_parameters()}
        h = (
            torch.zeros(x.shape[0], self.network.hidden_size, dtype=x.dtype, device=x.device)
            if hidden is None
            else hidden[0]
        )
        activation = RightSlopeActivation(self.network.nonlinearity)
        states = []
        for t in range(x.shape[1]):
            net = F.linear(x[:, t, :], params["rnn.weight_ih"], params.get("rnn.bias_ih")) + F.linear(
                h, params["rnn.weight_hh"], params.get("rnn.bias_hh")
            )
            h = activation(net)
            states.append(h)
        return torch.stack(states, dim=1), h.unsqueeze(0)

    def pre_activations(self, x, h0, states, held_states=None):
        with torch.no_grad():
            first = torch.zeros_like(states[:, :1, :]) if h0 is None else h0.unsqueeze(1)
            previous = torch.cat([first, states[:, :-1, :]], dim=1)
            for t, held in (held_states or {}).items():
                previous[:, t, :] = held
            return F.linear(x, self.rnn.weight_ih_l0, getattr(self.rnn, "bias_ih_l0", None)) + F.linear(
                previous, self.rnn.weight_hh_l0, getattr(self.rnn, "bias_hh_l0", None)
            )
