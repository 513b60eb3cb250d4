"""The two places where a short power series (refbp.perturbed.series, cut below 2^-60) gives a
layer's values to rounding without an activation per value:

  - `exp_factored`: for a sigmoid layer after the moved unit, its e^-net is the base's e^-net
    times e^-change, a series in the change;
  - `output_nets_by_series`: when one hidden layer (any elementwise activation with a change
    series, refbp.perturbed.activation_change) lies between the moved unit and the output
    layer, the output nets move by a power series in the moved unit's change, whose
    coefficients (through that layer and the output layer's weights) are computed once per
    base, so a network costs outputs x terms multiply-adds. For the relu family it holds
    while no net of that layer crosses 0: the caller redoes the networks that may
    (refbp.perturbed.kink_margins).

Each returns False, with nothing written, where it does not apply (another activation, the
complex step, a change too large for a short series, a table too large to keep): the caller
then takes the direct path. Nothing here uses a derivative formula.
"""

from __future__ import annotations

import numpy as np

from . import series
from .activation_change import change_coefficients, change_terms
from .base import Base
from .moved import Moved, runs
from .workspace import work_array

# The largest series table kept per layer (floats): 32 MiB.
SERIES_FLOATS = 2**22
# A product per run of networks that move one unit, up to this many runs per chunk; past it one
# gathered sum (einsum), which costs about as much as 200 small products.
MAX_SERIES_RUNS = 128


def exp_factored(base: Base, layer: int, moved: Moved, out, example_major: bool) -> bool:
    """For a sigmoid `layer` right after the moved unit: u = e^-net of every network into
    `out` (unit-major [n, S*B] or example-major [S*B, n]), as the base's e^-net times
    e^-(weight[:, units[s]] * delta_out[s]). For finite-difference steps the second factor is
    within about 1e-5 of 1 and its series has a few terms: one product with a few rows per
    run of networks that share a unit, where the direct way takes a rank-one product, an add,
    a clip test and an exp over every value."""
    if base.model.activations[layer].name != "sigmoid" or out.dtype != np.float64:
        return False
    units, delta_out = moved.units, moved.delta_out
    assert delta_out is not None  # a hidden layer moved
    unit_runs = runs(units)
    if unit_runs is None:
        return False
    terms = series.exp_terms(base.largest_weight(layer) * moved.largest_delta_out)
    if terms is None:
        return False
    count, batch = delta_out.shape
    powers = work_array("powers", (terms, count * batch), np.float64)  # delta_out^k, k < terms
    powers[0] = 1.0
    for k in range(1, terms):
        np.multiply(powers[k - 1], delta_out.reshape(-1), out=powers[k])
    all_coefficients = _exp_coefficients(base, layer, terms)
    for first, end in unit_runs:
        coefficients = all_coefficients[:, units[first]]  # [terms, n]: (-weight[:, unit])^k / k!
        columns = slice(first * batch, end * batch)
        if example_major:
            np.matmul(powers[:, columns].T, coefficients, out=out[columns])
        else:
            np.matmul(coefficients.T, powers[:, columns], out=out[:, columns])
    out *= base.tiled("exp_of_negated_nets", layer, count, example_major)
    return True


def output_nets_by_series(base: Base, layer: int, moved: Moved, outputs) -> bool:
    """For `layer` between the moved unit's layer and the output layer: the output layer's nets
    of every network into `outputs` [S, B, O], without `layer`'s activations. Unit j = units[s]
    of the layer before moved by delta_out[s, b] moves unit u of `layer` by
    x = weight[u, j] delta_out, and its out by sum_n D_n(u, b) x^n (activation_change), so the
    output nets move by sum_n delta_out^n H_n[:, b, j], with
    H_n[o, b, j] = sum_u weight_out[o, u] D_n(u, b) weight[u, j]^n computed once."""
    if outputs.dtype != np.float64:
        return False
    terms = change_terms(base.model.activations[layer], base.largest_weight(layer) * moved.largest_delta_out)
    if terms is None:
        return False
    # numpy's matmul of inner size 1 takes no BLAS path (several times slower): a zero term pads it.
    stored = max(terms, 2)
    change_series = _output_change_series(base, layer, terms, stored)  # [J, B, stored, O]
    if change_series is None:
        return False
    units, delta_out = moved.units, moved.delta_out
    assert delta_out is not None  # a hidden layer moved
    count, batch = delta_out.shape
    powers = work_array("output powers", (batch, count, stored), np.float64)  # delta_out^(n+1), [b, s, n]
    np.copyto(powers[:, :, 0], delta_out.T)
    for n in range(1, terms):
        np.multiply(powers[:, :, n - 1], delta_out.T, out=powers[:, :, n])
    powers[:, :, terms:] = 0.0
    by_example = outputs.transpose(1, 0, 2)  # [B, S, O]
    unit_runs = runs(units, MAX_SERIES_RUNS)
    if unit_runs is None:  # many units: one sum over the gathered series of each network's unit
        np.einsum("bsn,sbno->bso", powers, change_series[units], out=by_example)
    else:
        for first, end in unit_runs:  # a product per example, all in one call
            np.matmul(powers[:, first:end], change_series[units[first]], out=by_example[:, first:end])
    outputs += base.tiled("nets", layer + 1, count, True).reshape(outputs.shape)
    return True


def _output_change_series(base: Base, layer: int, terms: int, stored: int):
    """H [J, B, stored, O] of `output_nets_by_series` for `layer` (J units before it, O outputs
    after it; terms past `terms` zero), or None past SERIES_FLOATS."""
    key = ("output change series", layer, terms, stored)
    if key not in base.derived:
        weight = base.params[f"layers.{layer}.weight"].astype(np.float64)  # [U, J]
        weight_out = base.params[f"layers.{layer + 1}.weight"].astype(np.float64)  # [O, U]
        (units, before), outs, batch = weight.shape, weight_out.shape[0], base.batch
        if terms * units * batch * before > SERIES_FLOATS or stored * outs * batch * before > SERIES_FLOATS:
            base.derived[key] = None
            return None
        net = np.asarray(base.forward.nets[layer], dtype=np.float64)  # [B, U]
        out = np.asarray(base.forward.outs[layer], dtype=np.float64)
        change = change_coefficients(base.model.activations[layer], net, out, terms)  # [terms, B, U]
        weight_power = weight.copy()
        result = np.zeros((stored, outs, batch, before))
        for n in range(terms):
            if n:
                weight_power *= weight
            # [U, B, J]: D_n(u, b) weight[u, j]^n, then the output layer's product over u
            scaled = change[n].T[:, :, None] * weight_power[:, None, :]
            np.matmul(weight_out, scaled.reshape(units, -1), out=result[n].reshape(outs, -1))
        base.derived[key] = np.ascontiguousarray(result.transpose(3, 2, 0, 1))
    return base.derived[key]


def _exp_coefficients(base: Base, layer: int, terms: int) -> np.ndarray:
    """(-weight)^k / k! for k < terms, laid out [k, unit before, unit]."""
    key = ("series", layer, terms)
    if key not in base.derived:
        negated = -base.params[f"layers.{layer}.weight"].T.astype(np.float64)
        coefficients = np.empty((terms,) + negated.shape)
        coefficients[0] = 1.0
        for k in range(1, terms):
            np.multiply(coefficients[k - 1], negated / k, out=coefficients[k])
        base.derived[key] = coefficients
    return base.derived[key]
