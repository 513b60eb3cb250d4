"""What one call's perturbations do to the perturbed layer: in network s, entry
flat_indices[s] of one tensor moved by deltas[s] changes one unit of that layer."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np

from .activations_in_place import activate_in_place
from .base import Base
from .workspace import gathered, work_array


@dataclasses.dataclass
class Moved:
    """For every network at once (small [S, B] arrays): network s moves unit units[s] of
    `layer` to net net_column[s], which changes its out by delta_out[s] (hidden elementwise
    layers only)."""

    layer: int
    units: np.ndarray
    net_column: np.ndarray
    delta_out: np.ndarray | None
    dtype: np.dtype
    largest_delta_out: float = 0.0  # over the whole call: one series length for every chunk

    def part(self, rows) -> Moved:
        """The networks `rows`: views for a slice, copies for an index array."""
        delta_out = None if self.delta_out is None else self.delta_out[rows]
        # Not dataclasses.replace: this runs once per chunk, and replace costs microseconds.
        return Moved(self.layer, self.units[rows], self.net_column[rows], delta_out, self.dtype, self.largest_delta_out)


def moved(base: Base, name: str, flat_indices: np.ndarray, deltas: np.ndarray) -> Moved:
    """Entry flat_indices[s] of tensor `name` (`layers.{l}.weight` or `.bias`) moved by deltas[s]:
    the perturbed layer's one changed unit in each network."""
    _, index, kind = name.split(".")
    layer = int(index)
    weight = base.params[f"layers.{layer}.weight"]
    size = base.params[name].size
    if len(flat_indices) and not 0 <= int(flat_indices.min()) <= int(flat_indices.max()) < size:
        # The gathers below clip rather than check (a check costs a buffered copy).
        raise IndexError(f"{name}: entries {flat_indices.min()}..{flat_indices.max()} of a tensor of {size}")
    dtype = np.result_type(base.forward.nets[layer], deltas)
    shape = (len(flat_indices), base.batch)
    # Work arrays here too: a whole tensor's [S, B] arrays are large enough to fault.
    units = flat_indices // weight.shape[1] if kind == "weight" else flat_indices
    net_column = gathered("net column", base.unit_major("nets", layer), units, dtype)
    if kind == "weight":
        change = gathered("change", base.unit_major("inputs", layer), flat_indices % weight.shape[1], dtype)
        change *= deltas[:, None]
        net_column += change
    else:
        net_column += deltas[:, None]
    activation = base.model.activations[layer]
    if layer + 1 == len(base.model.activations) or not activation.elementwise:
        return Moved(layer, units, net_column, None, dtype)
    out_column = work_array("out column", shape, dtype)
    np.copyto(out_column, net_column)
    delta_out = activate_in_place(activation, out_column)
    delta_out -= gathered("base out column", base.unit_major("outs", layer), units, dtype)
    largest = float(np.max(np.abs(delta_out), initial=0.0))
    return Moved(layer, units, net_column, delta_out, dtype, largest)


# A chunk whose networks move more units than this gets its rank-one change in one gathered
# product; fewer, one product per run of networks that share a unit.
MAX_RUNS = 16


def runs(units, limit: int = MAX_RUNS):
    """(first, end) of each run of consecutive networks that move the same unit; None past
    `limit` runs (one gathered product is then faster than a product per run)."""
    starts = np.flatnonzero(units[1:] != units[:-1]) + 1
    if len(starts) >= limit:
        return None
    edges = [0, *starts.tolist(), len(units)]
    return list(itertools.pairwise(edges))
