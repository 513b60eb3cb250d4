"""cs231n_layers.py with a classic slip: relu_backward returns the relu's local slope, without
multiplying dout through. `refbp check --layer examples/layers/cs231n_bug_relu.py` names it
dout-not-multiplied."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cs231n_layers import *  # noqa: F403
from cs231n_layers import REFBP_LAYERS as _CORRECT


def relu_backward(dout, cache):
    return (cache > 0).astype(float)  # BUG: dout never multiplied in


REFBP_LAYERS = _CORRECT
