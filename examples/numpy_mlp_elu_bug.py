"""A planted bug for `refbp fuzz --impl` to find: the elu slope off by its alpha.

For net <= 0, elu(net) = alpha (e^net - 1) and its slope is alpha e^net = out + alpha
(alpha = 1). This implementation takes the slope as e^net - 1, i.e. `out`: off by alpha.
Its forward is right; the suite's one elu case happens to catch it, and so does

    refbp fuzz --impl examples/numpy_mlp_elu_bug.py:factory --save-failures found/
    refbp check --impl examples/numpy_mlp_elu_bug.py:factory found/      # the saved case fails again

which draws networks with elu layers whose nets go negative within its default budget (the
factory says it supports MLPs only, `factory.kinds`, so fuzz draws only MLPs).
"""

from __future__ import annotations

import pathlib
import sys

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))  # numpy_mlp.py, beside this file
from numpy_mlp import SLOPES, NumpyMLP

BUGGY_SLOPES = dict(SLOPES, elu=lambda z: np.where(z > 0, 1.0, np.expm1(np.minimum(z, 0.0))).astype(z.dtype))


class EluSlopeOffByAlpha(NumpyMLP):
    slopes = BUGGY_SLOPES


def factory(case: dict):
    """MLPs only (None: an RNN case is not supported), as numpy_mlp.py."""
    return EluSlopeOffByAlpha(case) if case["network"]["kind"] == "mlp" else None


factory.kinds = ("mlp",)  # what `refbp fuzz --impl` draws for it (docs/formats.md section 8)
