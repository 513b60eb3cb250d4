"""Activations, each beside its own derivative (the seed's `f(e)` and `f'(e)`).

`forward(xp, net)` gives `out`; `backward(xp, net, out, grad_out)` applies the chain rule
through the activation and gives dL/dnet. Elementwise activations also expose
`derivative(xp, net, out)`, the local slope dout/dnet that `refbp explain` prints.
"""

from __future__ import annotations

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

    def derivative(self, xp, net, out):
        raise NotImplementedError

    def backward(self, xp, net, out, grad_out):
        return grad_out * self.derivative(xp, net, out)


class Identity(Activation):
    name = "identity"

    def forward(self, xp, net):
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
    EXP_LIMIT = {"float64": 709.0, "float32": 88.0}  # noqa: RUF012 (a table, only read)

    def forward(self, xp, net):
        # 1 / (1 + e^-net): one exp and no branch select, accurate to a few ulps for every net
        # (for net << 0, 1 + e^-net rounds to e^-net and 1 / e^-net = e^net keeps its digits).
        limit = self.EXP_LIMIT["float32" if net.dtype == xp.float32 else "float64"]
        out = xp.exp(xp.minimum(-net, limit))
        out += 1.0
        return 1.0 / out

    def derivative(self, xp, net, out):
        return out * (1.0 - out)  # the seed's f(1 - f), at most 0.25


class Tanh(Activation):
    name = "tanh"

    def forward(self, xp, net):
        return xp.tanh(net)

    def derivative(self, xp, net, out):
        return 1.0 - out * out


class ReLU(Activation):
    name = "relu"

    def forward(self, xp, net):
        # max(net, 0): no branchy select, unlike where(net > 0, net, 0 * net) (docs/performance.md).
        return xp.maximum(net, 0.0)

    def derivative(self, xp, net, out):
        # 0 at net == 0, as torch.
        return xp.astype(net > 0, net.dtype)

    def backward(self, xp, net, out, grad_out):
        # The chain rule with the derivative as a 0/1 mask: no float copy of it (large batches are
        # memory-bound), and one pass fewer than where(net > 0, grad_out, 0) (docs/performance.md).
        # Unlike torch's masked select, a non-finite dL/dout at an inactive unit stays NaN here.
        return grad_out * (net > 0)


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
