"""Which classic layer bug a wrong gradient looks like: the layer-level diagnosis of `refbp check
--layer`. Each bugged reference is recomputed from the layer's inputs (never from the code under
test): the upstream gradient not multiplied through, the bias gradient not summed over the batch,
an activation's slope taken from the wrong value (refbp.diagnosis.functions' slips), a transposed
or scaled weight gradient."""

from __future__ import annotations

import numpy as np

from ..diagnosis.functions import activate, activation_backward
from ..diagnosis.signatures import within

NOTES = {
    "dout-not-multiplied": "the upstream gradient dout is not multiplied through: the gradient is what it would "
    "be for dout = 1 everywhere (the local derivative alone)",
    "bias-not-summed-over-batch": "the bias gradient is not summed over the batch: one example's dout, or the "
    "per-example rows left as they are",
    "transposed": "the weight gradient is the reference transposed: x^T dout written dout^T x, or the layout "
    "(in, out) confused with (out, in)",
    "zero": "all zeros where the reference is not: a gradient never written back",
    "sign": "every entry has the wrong sign",
}
SLIPS = {"sigmoid": ("sigmoid-on-net", "sigmoid-twice"), "tanh": ("tanh-on-net",), "softmax": ("softmax-elementwise",)}


def diagnose(
    function: str,
    tensor: str,
    actual,
    reference,
    inputs: dict,
    upstream,
    ones_reference: dict,
    atol: float,
    rtol: float,
) -> tuple[str, str]:
    """(id, note) of a failed gradient of `tensor` (an input name); `ones_reference` the reference's
    gradients for an upstream gradient of ones."""
    a, r = np.asarray(actual, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    if a.shape != r.shape:
        if r.ndim == 2 and a.shape == r.T.shape and within(a, r.T, atol, rtol):
            return "transposed", NOTES["transposed"]
        if tensor == "b" and a.ndim == 2 and a.shape[-1] == r.shape[-1] and within(a.sum(axis=0), r, atol, rtol):
            return "bias-not-summed-over-batch", NOTES["bias-not-summed-over-batch"] + f" (shape {list(a.shape)})"
        return "unknown", f"shape {list(a.shape)} where the reference has {list(r.shape)}"
    if not np.all(np.isfinite(a)):
        return "non-finite", "NaN or infinity where the reference is finite: an overflow (tanh or exp of a large net?)"
    if np.any(r) and np.all(np.abs(a) <= atol):
        return "zero", NOTES["zero"]
    ones = ones_reference.get(tensor)
    if ones is not None and not within(ones, r, atol, rtol) and within(a, ones, atol, rtol):
        return "dout-not-multiplied", NOTES["dout-not-multiplied"]
    if tensor == "b" and np.ndim(upstream) == 2 and np.shape(upstream)[0] > 1:
        dout = np.asarray(upstream, dtype=np.float64)
        if any(within(a, dout[i], atol, rtol) for i in (0, dout.shape[0] - 1)) or within(a, dout.mean(0), atol, rtol):
            return "bias-not-summed-over-batch", NOTES["bias-not-summed-over-batch"]
    if tensor == "x" and function in SLIPS:
        x = np.asarray(inputs["x"], dtype=np.float64)
        out = activate(function, x)
        for slip in SLIPS[function]:
            bugged = activation_backward(function, x, out, np.asarray(upstream, dtype=np.float64), slip)
            if within(a, bugged, atol, rtol):
                return f"activation-derivative:{slip}", f"the layer's slope taken as the slip {slip} does"
    if r.ndim == 2 and r.shape[0] == r.shape[1] and not within(r.T, r, atol, rtol) and within(a, r.T, atol, rtol):
        return "transposed", NOTES["transposed"]
    k = float(np.sum(a * r) / np.sum(r * r)) if np.any(r) else 0.0
    if np.isfinite(k) and k != 0.0 and within(a, k * r, atol * max(1.0, abs(k)), rtol):
        if abs(k + 1.0) <= 1e-9:
            return "sign", NOTES["sign"]
        return f"scaled:{k:.6g}", f"every entry is {k:.6g} times the reference (a factor lost or added: the batch?)"
    return "unknown", "no classic layer bug's signature matches; look at the worst entry"
