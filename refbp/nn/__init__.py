"""The implementation under test: forward, backward and update written by hand.

It computes on numpy arrays or on any Array-API namespace (torch tensors through
array-api-compat), but never imports torch itself and never uses autograd.
"""

from . import heap
from .runner import build_model, case_arrays, compute_trace, loss_function

# A batch step's arrays reuse the pages of the step before (see refbp.nn.heap).
heap.keep_freed_memory()

__all__ = ["build_model", "case_arrays", "compute_trace", "loss_function"]
