"""Activations, each beside its own derivative (the seed's `f(e)` and `f'(e)`).

`forward(xp, net)` gives `out`; `backward(xp, net, out, grad_out)` applies the chain rule
through the activation and gives dL/dnet. Elementwise activations also expose
`derivative(xp, net, out)`, the local slope dout/dnet that `refbp explain` prints.
"""

from __future__ import annotations

import numpy as np

from refbp.names import ACTIVATIONS as NAMES


class Activation:
    """`name`'s row of refbp.names says whether it is kinked (relu family) or elementwise."""

    name = ""

    @property
    def kinked(self) -> bool:
        return NAMES[self.name].kinked

    @property
    def elementwise(self) -> bool:
        return NAMES[self.name].elementwise

    def forward(self, xp, net):
        raise NotImplementedError

    def forward_in_place(self, net):
        """numpy only: `forward` written over `net` itself where the activation has such a
        form (the finite differences' hot path reuses its work arrays); else a new array."""
        return self.forward(np, net)

    def derivative(self, xp, net, out):
        raise NotImplementedError

    def backward(self, xp, net, out, grad_out):
        return grad_out * self.derivative(xp, net, out)


class Identity(Activation):
    name = "identity"

    def forward(self, xp, net):
        return net

    def forward_in_place(self, net):
        return net

    def derivative(self, xp, net, out):
        return xp.ones_like(net)

    def backward(self, xp, net, out, grad_out):
        return grad_out


class Sigmoid(Activation):
    name = "sigmoid"

    # e^709 and e^88 are the largest powers of e below float64's and float32's maxima:
    # clipping -net there keeps exp finite, and changes the result only where it is below
    # the dtype's smallest normal number (torch gives 0 there).
    EXP_LIMIT = {"float64": 709.0, "float32": 88.0}

    def forward(self, xp, net):
        # 1 / (1 + e^-net): one exp and no branch select, accurate to a few ulps for every net
        # (for net << 0, 1 + e^-net rounds to e^-net and 1 / e^-net = e^net keeps its digits).
        limit = self.EXP_LIMIT["float32" if net.dtype == xp.float32 else "float64"]
        out = xp.exp(xp.minimum(-net, limit))
        out += 1.0
        if isinstance(out, np.ndarray):
            # The same numbers as the power below, 4x faster in numpy (0.25 against 1 ns a value).
            return np.divide(1.0, out, out=out)
        out **= -1.0  # in place: torch takes a power of -1 as a reciprocal
        return out

    def forward_in_place(self, net):
        if net.dtype.kind != "f":
            return self.forward(np, net)
        return self.from_exp_of_negated_net(self.exp_of_negated_net(net))

    # The sigmoid as a function of u = e^-net, in two halves: the finite differences' hot path
    # (refbp.nn.perturbed) gets u for a slightly moved net as e^-net * e^-change, without an exp.
    def exp_of_negated_net(self, net):
        """numpy only: e^-net (clipped as in `forward`), written over a float `net`."""
        limit = self.EXP_LIMIT["float32" if net.dtype == np.float32 else "float64"]
        np.negative(net, out=net)
        # The clip is the costliest pass and rarely needed.
        if net.size and net.max() > limit:
            np.minimum(net, limit, out=net)
        return np.exp(net, out=net)

    @staticmethod
    def from_exp_of_negated_net(u):
        """numpy only: the sigmoid 1 / (1 + u) from u = e^-net, written over `u`."""
        u += 1.0
        return np.divide(1.0, u, out=u)

    def derivative(self, xp, net, out):
        return out * (1.0 - out)  # the seed's f(1 - f), at most 0.25


class Tanh(Activation):
    name = "tanh"

    def forward(self, xp, net):
        return xp.tanh(net)

    def forward_in_place(self, net):
        return np.tanh(net, out=net)

    def derivative(self, xp, net, out):
        return 1.0 - out * out


class ReLU(Activation):
    name = "relu"

    def forward(self, xp, net):
        # max(net, 0): a tenth of the time of where(net > 0, net, 0 * net) on numpy (no branchy select).
        return xp.maximum(net, 0.0)

    def forward_in_place(self, net):
        return np.maximum(net, 0.0, out=net)

    def derivative(self, xp, net, out):
        # 0 at net == 0, as torch.
        return xp.astype(net > 0, net.dtype)

    def backward(self, xp, net, out, grad_out):
        # The mask applied directly: no float copy of the derivative (large batches are memory-bound).
        return xp.where(net > 0, grad_out, 0.0)


class LeakyReLU(Activation):
    name = "leaky_relu"
    slope = 0.01

    def forward(self, xp, net):
        return xp.where(net > 0, net, self.slope * net)

    def derivative(self, xp, net, out):
        # `slope` at net == 0, as torch (only net > 0 takes slope 1).
        return xp.where(net > 0, 1.0 + 0.0 * net, self.slope + 0.0 * net)


class ELU(Activation):
    name = "elu"

    def forward(self, xp, net):
        return xp.where(net > 0, net, xp.expm1(xp.minimum(net, 0.0 * net)))

    def derivative(self, xp, net, out):
        return xp.where(net > 0, 1.0 + 0.0 * net, out + 1.0)


class Softplus(Activation):
    name = "softplus"

    def forward(self, xp, net):
        # log(1 + e^x) = max(x, 0) + log1p(e^-|x|): no overflow for large |x|.
        return xp.maximum(net, 0.0 * net) + xp.log1p(xp.exp(-xp.abs(net)))

    def derivative(self, xp, net, out):
        return SIGMOID.forward(xp, net)


class Softmax(Activation):
    """Over the last axis. Not elementwise: its backward is the Jacobian-vector product."""

    name = "softmax"

    def forward(self, xp, net):
        shifted = xp.exp(net - xp.max(net, axis=-1, keepdims=True))
        return shifted / xp.sum(shifted, axis=-1, keepdims=True)

    def derivative(self, xp, net, out):
        raise TypeError("softmax has a Jacobian, not an elementwise derivative")

    def backward(self, xp, net, out, grad_out):
        # J = diag(s) - s s^T, so J^T g = s * (g - <g, s>).
        return out * (grad_out - xp.sum(grad_out * out, axis=-1, keepdims=True))


SIGMOID = Sigmoid()
ACTIVATIONS: dict[str, Activation] = {
    a.name: a for a in (Identity(), SIGMOID, Tanh(), ReLU(), LeakyReLU(), ELU(), Softplus(), Softmax())
}


def get(name: str) -> Activation:
    return ACTIVATIONS[name]
