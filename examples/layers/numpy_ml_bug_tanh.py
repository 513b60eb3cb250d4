"""numpy_ml_layers.py with a classic slip: tanh's slope taken from its input z, 1 - z^2, where
1 - tanh(z)^2 belongs. `refbp check --layer examples/layers/numpy_ml_bug_tanh.py` names it
activation-derivative:tanh-on-net."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy_ml_layers as correct


class Tanh(correct.Tanh):
    def grad(self):
        return 1.0 - self.z**2  # BUG: the net, not the output


REFBP_LAYERS = {"preset": "numpy-ml", "layers": dict(correct.REFBP_LAYERS["layers"], tanh=Tanh)}
