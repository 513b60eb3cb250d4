"""cs231n_layers.py with a classic slip: sigmoid_backward takes the slope from its input x,
x (1 - x), where out (1 - out) belongs. `refbp check --layer examples/layers/cs231n_bug_sigmoid.py`
names it activation-derivative:sigmoid-on-net."""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cs231n_layers import *  # noqa: F403
from cs231n_layers import REFBP_LAYERS as _CORRECT


def sigmoid_forward(x):
    return np.exp(-np.logaddexp(0.0, -x)), x


def sigmoid_backward(dout, cache):
    return dout * cache * (1.0 - cache)  # BUG: the cache holds x, the slope wants out


REFBP_LAYERS = _CORRECT
