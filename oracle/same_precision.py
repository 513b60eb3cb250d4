"""What torch itself achieves at a lower precision: the torch reference run in float32, float16
or bfloat16, on the CPU, on the case's numbers rounded to that dtype.

It is the same builder as the float64 reference (refbp.oracle.torch_reference.trace, through
refbp.oracle.torch_modules and torch.optim's own updates), asked for another dtype: no second
network is written here. Its distance from the float64 reference, entry by entry, is the
measuring stick of refbp.check.precision: an implementation at that precision may be off by
k times what torch is off by (docs/precision.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from refbp.cases.dtypes import at_dtype
from refbp.trace import Trace

from .conventions import Convention
from .torch_reference import trace

if TYPE_CHECKING:
    from refbp.cases.model import Case

TORCH_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def same_precision_trace(case: Case, dtype: str | None = None, convention: Convention = Convention()) -> Trace:
    """torch's own forward, gradients and training of `case` in `dtype` (default: the case's), on
    the CPU; every array of the trace in float64. Where torch's kernels give NaN or infinity at
    that precision (an overflow), so does the trace: refbp.check.precision makes such entries
    inconclusive."""
    dtype = dtype or case.dtype
    return trace(at_dtype(case, dtype), convention, dtype=TORCH_DTYPES[dtype])
