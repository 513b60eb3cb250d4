"""numpy_ml_layers.py with a classic slip: softmax differentiated as if elementwise, y (1 - y),
its Jacobian's off-diagonal terms dropped. `refbp check --layer
examples/layers/numpy_ml_bug_softmax.py` names it activation-derivative:softmax-elementwise."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy_ml_layers as correct


class Softmax(correct.Softmax):
    def backward(self, dLdY):
        return dLdY * self.y * (1.0 - self.y)  # BUG: only the diagonal of the Jacobian


REFBP_LAYERS = {"preset": "numpy-ml", "layers": dict(correct.REFBP_LAYERS["layers"], softmax=Softmax)}
