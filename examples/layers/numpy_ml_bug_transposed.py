"""numpy_ml_layers.py with a classic slip: dW computed as dLdY^T X, the (out, in) transpose of
what W's (in, out) layout needs. `refbp check --layer examples/layers/numpy_ml_bug_transposed.py`
names it transposed."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy_ml_layers as correct


class FullyConnected(correct.FullyConnected):
    def backward(self, dLdY):
        dX = super().backward(dLdY)
        self.gradients["W"] = dLdY.T @ self.X  # BUG: (out, in) where W is (in, out)
        return dX


REFBP_LAYERS = {
    "preset": "numpy-ml",
    "layers": dict(correct.REFBP_LAYERS["layers"], affine=lambda n_in, n_out: FullyConnected(n_out)),
}
