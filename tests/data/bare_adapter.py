"""examples/numpy_mlp.py with only the three methods an adapter must have (forward, loss,
gradients): no intermediates, error_signals or train (tests/test_pipe_optional.py)."""

import importlib.util
from pathlib import Path

_SPEC = importlib.util.spec_from_file_location(
    "numpy_mlp_bare", Path(__file__).parents[2] / "examples" / "numpy_mlp.py"
)
_MLP = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(_MLP)


class Bare:
    def __init__(self, inner):
        self.inner = inner

    def forward(self, params, inputs):
        return self.inner.forward(params, inputs)

    def loss(self, params, inputs, targets):
        return self.inner.loss(params, inputs, targets)

    def gradients(self, params, inputs, targets):
        return self.inner.gradients(params, inputs, targets)


def factory(case):
    inner = _MLP.factory(case)
    return None if inner is None else Bare(inner)


factory.kinds = ("mlp",)
