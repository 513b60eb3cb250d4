"""refbp's activations in a form that is also right for complex arguments (the complex step),
keyed by activation name; the rest of a complex-capable network is refbp.nn's own.

The complex-step derivative f'(x) ~ Im f(x + ih) / h needs f evaluated by an analytic
formula. refbp's own softplus picks its stable branch with |net|, which is not analytic;
here the branch is picked by the real part instead, so the formula is the same analytic
function on either branch (and, on real input, the same numbers as refbp's). refbp's
sigmoid clips -net at its largest exponent; here only the real part is clipped.
Identity, tanh and softmax (a constant shift inside the exponent) are analytic as written,
and so are the losses. The relu family has a kink at 0: no analytic form, so a network
that uses it is refused.
"""

from __future__ import annotations

from refbp.names import ANALYTIC_ACTIVATIONS as ANALYTIC
from refbp.nn import activations


class NotAnalytic(ValueError):
    """The network uses a function with no analytic continuation (a kink)."""


class AnalyticSigmoid(activations.Sigmoid):
    def forward(self, xp, net):
        # refbp's 1 / (1 + e^-net) is analytic as written; only its clip of -net at EXP_LIMIT
        # must leave the imaginary part (the complex step) alone: shift the real part instead.
        exponent = -net
        exponent = exponent - xp.maximum(xp.real(exponent) - self.EXP_LIMIT["float64"], 0.0)
        return 1.0 / (1.0 + xp.exp(exponent))


class AnalyticSoftplus(activations.Softplus):
    def forward(self, xp, net):
        positive = xp.real(net) >= 0
        return xp.where(positive, net, 0.0 * net) + xp.log1p(xp.exp(xp.where(positive, -net, net)))


REPLACEMENTS = {"sigmoid": AnalyticSigmoid(), "softplus": AnalyticSoftplus()}


def not_analytic_reason(activation_names) -> str | None:
    """Why the complex step cannot be used on a network with these activations (None: it can)."""
    bad = [(i, name) for i, name in enumerate(activation_names) if name not in ANALYTIC]
    if not bad:
        return None
    where = ", ".join(f"layer {i}: {name}" for i, name in bad)
    return (
        f"complex step refused: the network is not analytic ({where}, with a non-differentiable point "
        f"at 0); the complex step needs every function to be one of {', '.join(ANALYTIC)}. "
        f"Use --fd-method central or richardson"
    )


def analytic_activations(activation_list) -> list:
    reason = not_analytic_reason([a.name for a in activation_list])
    if reason:
        raise NotAnalytic(reason)
    return [REPLACEMENTS.get(a.name, a) for a in activation_list]
