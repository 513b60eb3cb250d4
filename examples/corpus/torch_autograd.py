"""torch.nn + torch.autograd + torch.optim adapter for MLPs and torch.nn.RNN; torch's own conventions throughout."""

# refbp check --impl examples/corpus/torch_autograd.py:factory            # every case, in float64
# refbp check --impl examples/corpus/torch_autograd.py:factory_float32    # float32 cases, in float32
#
# Nothing is differentiated by hand: an MLP is torch.nn.Linear layers (in a ModuleList named
# `layers`, so the state dict's names are the case's) with torch.nn's activation modules; an
# RNN is torch.nn.RNN (batch first, run chunk by chunk with the state detached between chunks
# when the case truncates) with a torch.nn.Linear readout; the losses are torch.nn.functional's
# (F.binary_cross_entropy, F.cross_entropy, F.mse_loss); gradients come from loss.backward();
# training is torch.optim.SGD / torch.optim.Adam over the parameters that are not frozen.
#
# `factory` computes every case in float64 (a float32 case's numbers are widened).
# `factory_float32` takes float32 cases only (it declines float64 ones, whose tolerances no
# float32 computation meets) and computes in the dtype of the arrays it is handed: float32 for
# the case itself; refbp's finite differences of this implementation's own loss hand it
# float64 parameters and get a float64 loss back.

from __future__ import annotations

import contextlib
import itertools

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

ACTIVATIONS = {
    "identity": nn.Identity,
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.01),
    "elu": lambda: nn.ELU(alpha=1.0),
    "softplus": nn.Softplus,
    "softmax": lambda: nn.Softmax(dim=-1),
}


@contextlib.contextmanager
def one_thread():
    """Run with one intra-op thread and restore the caller's setting: on ops this small,
    torch's thread pool costs a synchronisation per op that, on a busy machine, takes
    milliseconds (1,000 times the op)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


TORCH_DTYPES = {np.dtype(np.float64): torch.float64, np.dtype(np.float32): torch.float32}


class MLP(nn.Module):
    """`layers.{i}` are nn.Linear, so the state dict's names are the case's parameter names."""

    def __init__(self, network: dict, dtype):
        super().__init__()
        sizes, bias = network["sizes"], network.get("bias", True)
        self.layers = nn.ModuleList(nn.Linear(a, b, bias=bias, dtype=dtype) for a, b in itertools.pairwise(sizes))
        self.activations = nn.ModuleList(ACTIVATIONS[name]() for name in network["activations"])

    def forward(self, x):
        for layer, activation in zip(self.layers, self.activations):
            x = activation(layer(x))
        return x

    @staticmethod
    def module_name(case_name: str) -> str:
        return case_name


class RNN(nn.Module):
    """torch.nn.RNN, batch first, and a Linear readout at every step or at the last step."""

    def __init__(self, network: dict, dtype):
        super().__init__()
        self.rnn = nn.RNN(
            network["input_size"],
            network["hidden_size"],
            num_layers=1,
            nonlinearity=network.get("nonlinearity", "tanh"),
            bias=network.get("bias", True),
            batch_first=True,
            dtype=dtype,
        )
        self.readout = nn.Linear(
            network["hidden_size"], network["output_size"], bias=network.get("readout_bias", True), dtype=dtype
        )
        self.output_activation = ACTIVATIONS[network.get("output_activation", "identity")]()
        self.every_step = network.get("readout", "every_step") == "every_step"
        self.truncate = network.get("truncate")

    def forward(self, x, h0=None):
        steps = x.shape[1]
        k = self.truncate or steps
        h = None if h0 is None else h0.unsqueeze(0)
        states = []
        for start in range(0, steps, k):  # truncated BPTT: the state is detached between chunks
            if start > 0:
                h = h.detach()
            chunk, h = self.rnn(x[:, start : start + k], h)
            states.append(chunk)
        hs = torch.cat(states, dim=1)  # [B, T, H]
        if not self.every_step:
            return self.output_activation(self.readout(hs[:, -1]))
        batch, steps, hidden = hs.shape  # the readout on [B T, H] rows
        return self.output_activation(self.readout(hs.reshape(batch * steps, hidden)).reshape(batch, steps, -1))

    @staticmethod
    def module_name(case_name: str) -> str:
        # rnn.weight_ih -> rnn.weight_ih_l0 (torch.nn.RNN's names for its first layer)
        return case_name + "_l0" if case_name.startswith("rnn.") else case_name


def torch_loss(name: str, y, t):
    if name == "half_sse":
        return 0.5 * F.mse_loss(y, t, reduction="sum")
    if name == "sse":
        return F.mse_loss(y, t, reduction="sum")
    if name == "mse":
        return F.mse_loss(y, t)
    if name == "bce":
        return F.binary_cross_entropy(y, t)
    if name == "cross_entropy":  # logits; class indices [...] or probabilities [..., C]
        classes = y.shape[-1]
        if t.dtype == torch.int64:
            return F.cross_entropy(y.reshape(-1, classes), t.reshape(-1))
        return F.cross_entropy(y.reshape(-1, classes), t.reshape(-1, classes))
    raise ValueError(f"unknown loss {name!r}")


class TorchAdapter:
    def __init__(self, case: dict, compute_dtype=None):
        self.case = case
        self.network = case["network"]
        self.loss_name = case["loss"]
        self.train_spec = case.get("train") or {}
        self.h0 = case.get("h0")
        self.compute_dtype = compute_dtype  # None: the dtype of the arrays handed in
        self._models = {}

    # helpers -----------------------------------------------------------------------------
    def _dtype(self, params):
        if self.compute_dtype is not None:
            return self.compute_dtype
        return TORCH_DTYPES[np.asarray(next(iter(params.values()))).dtype]

    def _model(self, params):
        """The network (built once per dtype: building one draws an initialisation) holding
        `params`, with no gradient left from an earlier call."""
        dtype = self._dtype(params)
        if dtype not in self._models:
            model = (MLP if self.network["kind"] == "mlp" else RNN)(self.network, dtype)
            named = dict(model.named_parameters())
            slots = {name: named[model.module_name(name)] for name in self.case["params"]}
            assert len(slots) == len(named), "the case's parameters are the network's"
            self._models[dtype] = model, slots
        model, slots = self._models[dtype]
        with torch.no_grad():
            for name, parameter in slots.items():
                value = torch.as_tensor(np.asarray(params[name]))
                if value.shape != parameter.shape:  # copy_ would broadcast
                    raise ValueError(f"{name}: shape {list(value.shape)}, the network's {list(parameter.shape)}")
                parameter.copy_(value)
                parameter.grad = None
        return model, dtype

    def _tensor(self, array, dtype):
        array = np.asarray(array)
        if array.dtype.kind == "i":
            return torch.as_tensor(array, dtype=torch.int64)
        return torch.as_tensor(array, dtype=dtype)

    def _outputs(self, model, inputs, dtype):
        x = self._tensor(inputs, dtype)
        if self.network["kind"] == "mlp":
            return model(x)
        h0 = None if self.h0 is None else self._tensor(self.h0, dtype)
        return model(x, h0)

    def _loss(self, model, inputs, targets, dtype):
        return torch_loss(self.loss_name, self._outputs(model, inputs, dtype), self._tensor(targets, dtype))

    def _grads(self, model):
        names = {model.module_name(name): name for name in self.case["params"]}
        return {names[n]: p.grad.detach().clone() for n, p in model.named_parameters()}

    # the protocol ------------------------------------------------------------------------
    def forward(self, params, inputs):
        with one_thread(), torch.no_grad():
            model, dtype = self._model(params)
            return self._outputs(model, inputs, dtype).numpy()

    def loss(self, params, inputs, targets):
        with one_thread(), torch.no_grad():
            model, dtype = self._model(params)
            return float(self._loss(model, inputs, targets, dtype))

    def gradients(self, params, inputs, targets):
        with one_thread():
            model, dtype = self._model(params)
            self._loss(model, inputs, targets, dtype).backward()
            return {name: g.numpy() for name, g in self._grads(model).items()}

    def train(self, params, inputs, targets):
        spec = self.train_spec
        with one_thread():
            model, dtype = self._model(params)
            names = {model.module_name(name): name for name in self.case["params"]}
            frozen = set(spec.get("frozen") or [])
            trained = [p for n, p in model.named_parameters() if names[n] not in frozen]
            if spec["optimizer"] == "sgd":
                optimizer = torch.optim.SGD(
                    trained,
                    lr=spec["lr"],
                    momentum=spec.get("momentum", 0.0),
                    weight_decay=spec.get("weight_decay", 0.0),
                )
            else:
                optimizer = torch.optim.Adam(
                    trained,
                    lr=spec["lr"],
                    betas=tuple(spec.get("betas", (0.9, 0.999))),
                    eps=spec.get("eps", 1e-8),
                    weight_decay=spec.get("weight_decay", 0.0),
                )
            for _ in range(spec.get("steps", 1)):
                optimizer.zero_grad()
                self._loss(model, inputs, targets, dtype).backward()
                optimizer.step()
            return {names[n]: p.detach().numpy().copy() for n, p in model.named_parameters()}


def factory(case: dict):
    """Every MLP and RNN case, computed in float64."""
    if case["network"]["kind"] not in ("mlp", "rnn"):
        return None
    return TorchAdapter(case, compute_dtype=torch.float64)


def factory_float32(case: dict):
    """float32 cases only, computed in the dtype handed in (float32 for the case)."""
    if case["network"]["kind"] not in ("mlp", "rnn") or case.get("dtype", "float64") != "float32":
        return None
    return TorchAdapter(case)


factory.kinds = ("mlp", "rnn")
factory_float32.kinds = ("mlp", "rnn")
