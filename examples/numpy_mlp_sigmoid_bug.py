"""The classic sigmoid bug, for `refbp check` to catch: the slope of the sigmoid taken as
net(1 - net), on the pre-activation, where the chain rule needs out(1 - out).

    refbp check --impl examples/numpy_mlp_sigmoid_bug.py:factory

The forward is right, so outputs and loss pass; every gradient below a sigmoid layer fails,
against torch and against finite differences of this implementation's own loss.
"""

from __future__ import annotations

import numpy as np

try:
    from numpy_mlp import SLOPES, NumpyMLP
except ImportError:  # loaded by path from elsewhere: find the sibling file
    import importlib.util
    import pathlib

    _spec = importlib.util.spec_from_file_location("numpy_mlp", pathlib.Path(__file__).with_name("numpy_mlp.py"))
    _module = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(_module)
    SLOPES, NumpyMLP = _module.SLOPES, _module.NumpyMLP

BUGGY_SLOPES = dict(SLOPES, sigmoid=lambda z: z * (1.0 - z))  # the bug: net(1 - net)


class SigmoidOnNet(NumpyMLP):
    slopes = BUGGY_SLOPES


def factory(case: dict):
    if case["network"]["kind"] != "mlp":
        return None
    return SigmoidOnNet(case)


factory.kinds = ("mlp",)  # what `refbp fuzz --impl` draws for it (docs/formats.md section 8)


if __name__ == "__main__":  # a tiny demonstration without refbp
    z = np.array([0.3775])
    print("right slope", SLOPES["sigmoid"](z), "buggy slope", BUGGY_SLOPES["sigmoid"](z))
