"""`refbp fuzz --layer`: a layer's inputs drawn by hypothesis; correct layers never fail (fairness),
a planted slip is found and named (teeth), the same seed draws the same inputs (issue 28, item 2).
The command line: tests/test_layer_cli.py."""

from __future__ import annotations

from pathlib import Path

from refbp.layer import load_declaration
from refbp.layer.draw import fuzz_layers

LAYERS = Path(__file__).resolve().parents[1] / "examples" / "layers"


def test_correct_layers_never_fail_on_drawn_inputs():
    for module in ("cs231n_layers", "numpy_ml_layers"):
        found = fuzz_layers(load_declaration(str(LAYERS / f"{module}.py")), module, examples=15, fuzz_seed=3)
        assert found.examples >= 5 * 15 and not found.failed, [
            (v.case, [(c.tensor, c.reference, c.max_rel_err) for c in v.failed_checks()], v.errors)
            for v in found.failed
        ]


def test_a_planted_slip_is_found_and_named():
    found = fuzz_layers(load_declaration(str(LAYERS / "numpy_ml_bug_softmax.py")), "bug", examples=15)
    named = {(c.tensor, c.diagnosis) for v in found.failed for c in v.checks if not c.passed}
    assert named == {("softmax.x", "activation-derivative:softmax-elementwise")}


def test_the_same_seed_draws_the_same_inputs():
    bound = load_declaration(str(LAYERS / "cs231n_bug_relu.py"))[1:2]  # relu alone
    first, again = (fuzz_layers(bound, "x", examples=8, fuzz_seed=5) for _ in range(2))
    assert [v.case for v in first.failed] == [v.case for v in again.failed] and first.failed
