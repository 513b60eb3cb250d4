"""cs231n_layers.py with a classic slip: affine_backward's db is dout itself, not summed over the
batch. `refbp check --layer examples/layers/cs231n_bug_bias.py` names it bias-not-summed-over-batch."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cs231n_layers import *  # noqa: F403
from cs231n_layers import REFBP_LAYERS as _CORRECT


def affine_backward(dout, cache):
    x, w = cache
    return (dout @ w.T).reshape(x.shape), x.reshape(x.shape[0], -1).T @ dout, dout  # BUG: db not summed


REFBP_LAYERS = _CORRECT
