"""Layer objects in the style of numpy-ml (neural_nets/layers/layers.py), written here from the
definitions: parameters and gradients in `parameters` / `gradients` dicts, W laid out (in, out),
b of shape (1, out); forward(X) returns Y and keeps what backward needs; backward(dLdY) returns
dLdX and fills `gradients`. Checked from its declaration alone:

    refbp check --layer examples/layers/numpy_ml_layers.py
"""

import numpy as np


class FullyConnected:
    def __init__(self, n_out):
        self.n_out = n_out
        self.parameters = {"W": None, "b": None}
        self.gradients = {"W": None, "b": None}

    def forward(self, X):
        self.X = X
        return X @ self.parameters["W"] + self.parameters["b"]

    def backward(self, dLdY):
        self.gradients["W"] = self.X.T @ dLdY
        self.gradients["b"] = dLdY.sum(axis=0, keepdims=True)
        return dLdY @ self.parameters["W"].T


class Elementwise:
    """An activation layer: forward(z) keeps z and f(z); backward multiplies dLdY by f'(z)."""

    def forward(self, z):
        self.z, self.y = z, self.fn(z)
        return self.y

    def backward(self, dLdY):
        return dLdY * self.grad()


class Tanh(Elementwise):
    def fn(self, z):
        return np.tanh(z)

    def grad(self):
        return 1.0 - self.y**2


class Sigmoid(Elementwise):
    def fn(self, z):
        return np.exp(-np.logaddexp(0.0, -z))

    def grad(self):
        return self.y * (1.0 - self.y)


class ReLU(Elementwise):
    def fn(self, z):
        return np.maximum(z, 0.0)

    def grad(self):
        return (self.z > 0).astype(float)


class Softmax:
    def forward(self, z):
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        self.y = e / e.sum(axis=-1, keepdims=True)
        return self.y

    def backward(self, dLdY):
        return self.y * (dLdY - np.sum(dLdY * self.y, axis=-1, keepdims=True))


# What refbp needs to know: 4 lines.
REFBP_LAYERS = {
    "preset": "numpy-ml",
    "layers": {
        "affine": lambda n_in, n_out: FullyConnected(n_out),
        "tanh": Tanh,
        "sigmoid": Sigmoid,
        "relu": ReLU,
        "softmax": Softmax,
    },
}
