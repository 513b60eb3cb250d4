"""The implementation under test: forward, backward and update written by hand.

It computes on numpy arrays or on any Array-API namespace (torch tensors through
array-api-compat), but never imports torch itself and never uses autograd.
"""

from .runner import build_model, case_arrays, compute_trace, loss_function

__all__ = ["build_model", "case_arrays", "compute_trace", "loss_function"]
