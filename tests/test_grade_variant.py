"""`refbp cases variant --seed S`: each case with new numbers and the same question; the same seed
gives the same variant; refbp itself passes every variant (no false alarm on new numbers)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from refbp.cases import SUITE_DIR, discover, load_case
from refbp.cases.variant import variant_case
from refbp.cli import main

CASES = [load_case(path) for path in discover([SUITE_DIR])]
KINK = SUITE_DIR / "mlp" / "mlp-zero-nets-leaky-relu-relu-b4.json"


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_a_variant_keeps_the_question_and_changes_the_numbers(case):
    variant = variant_case(case, 2024)
    assert variant.id == case.id and variant.network == case.network and variant.loss == case.loss
    assert variant.train == case.train and variant.dtype == case.dtype and variant.aliases == case.aliases
    assert variant.expected is None  # published numbers belong to the original numbers
    assert {k: v.shape for k, v in variant.params.items()} == {k: v.shape for k, v in case.params.items()}
    assert variant.inputs.shape == case.inputs.shape and variant.targets.shape == case.targets.shape
    assert variant.targets.dtype == case.targets.dtype
    assert not all(np.array_equal(variant.params[k], case.params[k]) for k in case.params)
    again = variant_case(case, 2024)
    assert all(np.array_equal(again.params[k], variant.params[k]) for k in case.params)
    assert np.array_equal(again.inputs, variant.inputs) and np.array_equal(again.targets, variant.targets)
    other = variant_case(case, 2025)
    assert not all(np.array_equal(other.params[k], variant.params[k]) for k in case.params)


def test_explicit_numbers_keep_sign_magnitude_and_exact_zeros():
    case = load_case(KINK)
    variant = variant_case(case, 3)
    for name, value in case.params.items():
        moved = variant.params[name]
        assert np.array_equal(np.sign(moved), np.sign(value)), name  # a zero weight row stays zero: units at the kink
        nonzero = value != 0
        assert np.all(
            (np.abs(moved[nonzero]) >= 0.5 * np.abs(value[nonzero]) * (1 - 1e-5))
            & (np.abs(moved[nonzero]) <= 1.5 * np.abs(value[nonzero]) * (1 + 1e-5))
        )


def test_class_and_probability_targets_keep_their_kind():
    for case in CASES:
        variant = variant_case(case, 11)
        if np.issubdtype(case.targets.dtype, np.integer):
            classes = case.network.sizes[-1] if case.network.kind == "mlp" else case.network.output_size
            assert variant.targets.min() >= 0 and variant.targets.max() < classes
        elif case.loss == "cross_entropy":
            assert np.allclose(variant.targets.sum(axis=-1), 1.0, atol=1e-6)
        elif case.loss == "bce":
            assert variant.targets.min() >= 0 and variant.targets.max() <= 1


def test_the_command_writes_explicit_files_and_refbp_passes_them(tmp_path, capsys):
    folder = tmp_path / "variant"
    picked = [
        SUITE_DIR / "seed",
        KINK,
        SUITE_DIR / "rnn" / "rnn-truncated-k5.json",
        SUITE_DIR / "mlp" / "mlp-bce-b12-adam.json",
        # units within rounding of their kink, taking mixed slopes: the conventions must still admit them
        SUITE_DIR / "regressions" / "fuzz-mlp-2bb245828c79.json",
        SUITE_DIR / "regressions" / "fuzz-rnn-c0e3aefe6364.json",
    ]
    assert main(["cases", "variant", str(folder), "--seed", "77", *map(str, picked)]) == 0
    written = capsys.readouterr().out.split()
    assert len(written) == 6 and (folder / "refbp-case-1.schema.json").exists()
    seed = json.loads((folder / "seed-2-2-2.json").read_text())
    assert "expected" not in seed and isinstance(seed["params"]["layers.0.weight"], list)
    assert "variant" in seed["tags"] and "seed 77" in seed["title"]
    assert main(["cases", "variant", str(folder), "--seed", "77", *map(str, picked)]) == 2  # never overwritten
    assert "already exists" in capsys.readouterr().err
    code = main(["run", str(folder), "--no-report"])
    out = capsys.readouterr().out
    assert code == 0 and "6/6 cases passed" in out


def test_a_negative_seed_is_refused(tmp_path, capsys):
    assert main(["cases", "variant", str(tmp_path), "--seed", "-1"]) == 2
    assert capsys.readouterr().err.strip() == "refbp: error: --seed -1: must be in [0, 2^63 - 1]"
