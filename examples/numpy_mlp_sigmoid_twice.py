"""A classic sigmoid bug for `refbp check` to catch and name: the sigmoid applied again to the
layer's output before its slope is taken, s(out)(1 - s(out)), where the chain rule needs
out(1 - out) = s(net)(1 - s(net)).

    refbp check --impl examples/numpy_mlp_sigmoid_twice.py:factory cases/seed

The forward is right, so outputs and loss pass; every gradient below a sigmoid layer fails,
and the diagnosis names the bug (`activation-derivative:sigmoid-twice`). It gives its
intermediates and error signals too (numpy_mlp.py's), so refbp says where it starts.
"""

from __future__ import annotations

try:
    from numpy_mlp import SLOPES, NumpyMLP, _sigmoid
except ImportError:  # loaded by path from elsewhere: find the sibling file
    import importlib.util
    import pathlib

    _spec = importlib.util.spec_from_file_location("numpy_mlp", pathlib.Path(__file__).with_name("numpy_mlp.py"))
    _module = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(_module)
    SLOPES, NumpyMLP, _sigmoid = _module.SLOPES, _module.NumpyMLP, _module._sigmoid


def _sigmoid_twice_slope(net):
    out = _sigmoid(net)
    return _sigmoid(out) * (1.0 - _sigmoid(out))  # the bug: s(out)(1 - s(out)) instead of out(1 - out)


class SigmoidTwice(NumpyMLP):
    slopes = dict(SLOPES, sigmoid=_sigmoid_twice_slope)  # noqa: RUF012 (a table, only read)


def factory(case: dict):
    if case["network"]["kind"] != "mlp":
        return None
    return SigmoidTwice(case)


factory.kinds = ("mlp",)  # what `refbp fuzz --impl` draws for it (docs/formats.md section 8)
