"""The nets a one-unit move adds to the next layer (a rank-one term per network), and the
signs of stacked nets that the kink probe compares: helpers of refbp.perturbed.perturbed_losses,
numpy only, on its work arrays (refbp.perturbed.workspace)."""

from __future__ import annotations

import numpy as np

from .moved import runs
from .workspace import work_array


def signs(net) -> np.ndarray:
    """sign(net) as a new int8 array in net's own layout: all a kink crossing depends on
    (refbp.oracle.fd.kinks compares signs), an eighth of a copy's bytes and no transposing copy of
    the unit-major work array (copying the nets was most of a relu network's time)."""
    out = np.empty(net.shape, dtype=np.int8)
    np.greater(net, 0, out=out.view(np.bool_))
    out -= np.less(net, 0).view(np.int8)
    return out


def rank_one(net, weight, units, delta_out, example_major: bool) -> None:
    """net[:, s*B + b] = weight[:, units[s]] * delta_out[s, b] (example-major: net[s*B + b, :]):
    what moving unit units[s] of the layer before by delta_out[s] adds to this layer's net,
    before its base."""
    count, batch = delta_out.shape
    unit_runs = runs(units)
    if unit_runs is None:  # one gathered product
        if example_major:  # unit-major first, then one transposing copy: a multiply along rows of O is slower
            width = weight.shape[0]
            scratch = work_array("rank one", (width, count, batch), net.dtype)
            np.multiply(weight[:, units][:, :, None], delta_out[None], out=scratch)
            np.copyto(net.reshape(count, batch, width), scratch.transpose(1, 2, 0))
        else:
            np.multiply(weight[:, units][:, :, None], delta_out[None], out=net.reshape(net.shape[0], count, -1))
        return
    for first, end in unit_runs:
        column, changes = weight[:, units[first]], delta_out[first:end].reshape(-1)
        if example_major:
            outer(changes, column, net[first * batch : end * batch])
        else:
            np.multiply(column[:, None], changes[None, :], out=net[:, first * batch : end * batch])


def outer(left, right, out) -> None:
    """out [N, O] = left [N] times right [O], as a product of inner size 2 (a zero pair added):
    numpy's matmul of inner size 1 takes no BLAS path, and a multiply broadcast along rows of
    O loops per row; both are several times slower. The zero pair adds exact zeros."""
    pair = work_array("outer pair", (len(left), 2), out.dtype)
    pair[:, 0], pair[:, 1] = left, 0.0
    rows = np.zeros((2, len(right)), dtype=out.dtype)
    rows[0] = right
    np.matmul(pair, rows, out=out)
