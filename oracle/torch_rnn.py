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

from collections.abc import Iterator
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from .conventions import KINKED_WITH_CHOICE, RightSlopeActivation
from .torch_functions import DTYPE, activation_module

if TYPE_CHECKING:
    from refbp.cases.model import RNNNetwork

Tensors = dict[str, torch.Tensor]


class RNNModule(torch.nn.Module):
    def __init__(
        self,
        network: RNNNetwork,
        dtype: torch.dtype = DTYPE,
        device: torch.device | str | None = None,
        right_slope: bool = False,
    ) -> None:
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
        self.output_activation: torch.nn.Module = activation_module(network.output_activation)
        if right_slope and network.output_activation in KINKED_WITH_CHOICE:
            self.output_activation = RightSlopeActivation(network.output_activation)

    def named_parameters(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, torch.nn.Parameter]]:
        """The case's names: torch.nn.RNN's `weight_ih_l0` (layer 0 of 1) is the case's `rnn.weight_ih`."""
        for name, parameter in super().named_parameters(prefix, recurse, remove_duplicate):
            yield name.removesuffix("_l0"), parameter

    def forward(
        self,
        x: torch.Tensor,
        h0: torch.Tensor | None = None,
        record: Tensors | None = None,
        held_states: dict[int, torch.Tensor] | None = None,
        params: Tensors | None = None,
    ) -> torch.Tensor:
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
        out: torch.Tensor = self.output_activation(net)
        if record is not None:
            record["rnn.net"] = self.pre_activations(x, h0, states, held_states)
            record["rnn.h"] = states
            record["readout.net"] = net
            record["readout.out"] = out
        return out

    def run_rnn(
        self,
        x: torch.Tensor,
        h0: torch.Tensor | None,
        held_states: dict[int, torch.Tensor] | None = None,
        params: Tensors | None = None,
    ) -> torch.Tensor:
        """All hidden states [B, T, H]; with truncation, chunk by chunk with the state detached between."""
        hidden = None if h0 is None else h0.unsqueeze(0)  # torch.nn.RNN wants [layers, B, H]
        chunk = self.network.truncate or x.shape[1]
        pieces: list[torch.Tensor] = []
        for start in range(0, x.shape[1], chunk):
            if start > 0:
                hidden = held_states[start].unsqueeze(0) if held_states else _detached(hidden)
            if self.right_slope:
                states, hidden = self.stepwise(x[:, start : start + chunk, :], hidden, params)
            elif params is None:
                states, hidden = self.rnn(x[:, start : start + chunk, :], hidden)
            else:
                states, hidden = self.kernel(x[:, start : start + chunk, :], hidden, params)
            pieces.append(states)
        return pieces[0] if len(pieces) == 1 else torch.cat(pieces, dim=1)

    def kernel(
        self, x: torch.Tensor, hidden: torch.Tensor | None, params: Tensors
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """torch.nn.RNN's own kernel (the one its forward calls) on the given weights."""
        if hidden is None:
            hidden = torch.zeros(1, x.shape[0], self.network.hidden_size, dtype=x.dtype, device=x.device)
        weights = [
            params[f"rnn.{name}"]
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
            if f"rnn.{name}" in params
        ]
        run = torch.rnn_tanh if self.network.nonlinearity == "tanh" else torch.rnn_relu
        states, last = run(x, hidden, weights, self.network.bias, 1, 0.0, False, False, True)
        return states, last

    def stepwise(
        self, x: torch.Tensor, hidden: torch.Tensor | None, params: Tensors | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The recurrence step by step, h_t = relu(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) with
        relu'(0) = 1: the same function as torch.nn.RNN's kernel, another choice at the kink."""
        params = params or {f"rnn.{name.removesuffix('_l0')}": p for name, p in self.rnn.named_parameters()}
        weight_ih, weight_hh = params["rnn.weight_ih"], params["rnn.weight_hh"]
        h = (
            torch.zeros(x.shape[0], self.network.hidden_size, dtype=x.dtype, device=x.device)
            if hidden is None
            else hidden[0]
        )
        activation = RightSlopeActivation(self.network.nonlinearity)
        states: list[torch.Tensor] = []
        for t in range(x.shape[1]):
            net = F.linear(x[:, t, :], weight_ih, params.get("rnn.bias_ih")) + F.linear(
                h, weight_hh, params.get("rnn.bias_hh")
            )
            h = activation(net)
            states.append(h)
        return torch.stack(states, dim=1), h.unsqueeze(0)

    def pre_activations(
        self,
        x: torch.Tensor,
        h0: torch.Tensor | None,
        states: torch.Tensor,
        held_states: dict[int, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        with torch.no_grad():
            first = torch.zeros_like(states[:, :1, :]) if h0 is None else h0.unsqueeze(1)
            previous = torch.cat([first, states[:, :-1, :]], dim=1)
            for t, held in (held_states or {}).items():
                previous[:, t, :] = held
            weight_ih, weight_hh = self.rnn.get_parameter("weight_ih_l0"), self.rnn.get_parameter("weight_hh_l0")
            return F.linear(x, weight_ih, getattr(self.rnn, "bias_ih_l0", None)) + F.linear(
                previous, weight_hh, getattr(self.rnn, "bias_hh_l0", None)
            )


def _detached(hidden: torch.Tensor | None) -> torch.Tensor | None:
    """The state handed to the next chunk, cut from the graph (None: torch.nn.RNN's zeros)."""
    return None if hidden is None else hidden.detach()
