"""The corpus of correct implementations (examples/corpus/, with examples/numpy_mlp.py): refbp
must raise no false alarm on any of them (issue "Trust", point 4).

Each implementation was written from the definitions, independently of refbp's own code, and
follows a correct convention of its own (torch's, relu'(0) = 1, bce's clamped derivative, an
(in, out) layout, hand-written BPTT). Here:
- `refbp check` on the whole shipped suite passes every case each one supports (and checks
  at least one);
- together they support every MLP and RNN case of the suite;
- each agrees with plain torch float64 autograd to 1e-12 wherever its convention and torch's
  coincide (refbp's verdicts aside: a failure of the checks above is the checker's, not the
  implementation's, when this test passes);
- `refbp fuzz --impl` finds nothing in 100 float64 and 100 float32 examples each (marked
  `slow`, run by CI's plain `pytest`; scripts/corpus_fuzz.sh runs the full 1,000 + 1,000);
- the results plain torch gives for every shipped case pass `refbp verify`.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from refbp.cases import SUITE_DIR, discover, load_case
from refbp.check.adapter import case_document
from refbp.cli import main

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
CORPUS = EXAMPLES / "corpus"

# (file, factory): the implementations under test
IMPLEMENTATIONS = [
    (EXAMPLES / "numpy_mlp.py", "factory"),
    (CORPUS / "torch_autograd.py", "factory"),
    (CORPUS / "torch_autograd.py", "factory_float32"),
    (CORPUS / "bce_torch_backward.py", "factory"),
    (CORPUS / "relu_right_derivative.py", "factory"),
    (CORPUS / "inout_layout_einsum.py", "factory"),
    (CORPUS / "rnn_bptt.py", "factory"),
]
# factory_float32 declines every float64 case, so it is fuzzed in float32 only
FUZZ_RUNS = [
    (path, name, dtype)
    for path, name in IMPLEMENTATIONS
    for dtype in ("float64", "float32")
    if not (name == "factory_float32" and dtype == "float64")
]
FUZZ_EXAMPLES = 100
AGREEMENT = 1e-12  # max |a - b| / max(1, max |torch|), per tensor

SUITE = discover([SUITE_DIR])


def spec(path: Path, name: str) -> str:
    return f"{path}:{name}"


def label(path: Path, name: str) -> str:
    return f"{path.stem}:{name}"


def load(path: Path, name: str = "factory"):
    module_name = "corpus_test_" + path.stem
    loader = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(module)
    return getattr(module, name)


def failed_lines(verdicts: list[dict]) -> list[str]:
    """One line per failed row (or error) of the failed, supported verdicts."""
    lines = []
    for verdict in verdicts:
        if verdict["passed"] or verdict.get("error_kind") == "unsupported":
            continue
        lines += [f"{verdict['case']}: {error}" for error in verdict.get("errors", [])]
        for row in verdict["checks"]:
            if not row["passed"]:
                lines.append(
                    f"{verdict['case']}: {row['reference']} {row['quantity']} {row['tensor']}"
                    f"{row['worst_index']} rel err {row['max_rel_err']} ({row.get('diagnosis', '')})"
                )
    return lines


# ---- refbp check on the shipped suite ----------------------------------------------------------


@pytest.mark.parametrize("path,name", IMPLEMENTATIONS, ids=[label(*i) for i in IMPLEMENTATIONS])
def test_check_passes_every_supported_shipped_case(path, name, capsys):
    code = main(["check", "--impl", spec(path, name), "--no-report", "--no-progress", "--json"])
    out, err = capsys.readouterr()
    verdicts = json.loads(out)
    checked = [v for v in verdicts if v.get("error_kind") != "unsupported"]
    assert checked, f"{label(path, name)} supported no shipped case"
    failures = failed_lines(verdicts)
    assert code == 0 and not failures, "\n".join(failures) or err[-3000:]


def test_together_they_support_every_shipped_mlp_and_rnn_case():
    factories = [load(path, name) for path, name in IMPLEMENTATIONS]
    unsupported = []
    for path in SUITE:
        document = case_document(load_case(path))
        if document["network"]["kind"] in ("mlp", "rnn") and all(f(document) is None for f in factories):
            unsupported.append(path.name)
    assert not unsupported
    # and each kind by at least one hand-written implementation besides torch
    kinds = {kind for path, name in IMPLEMENTATIONS if path.stem != "torch_autograd" for kind in load(path, name).kinds}
    assert kinds == {"mlp", "rnn"}


# ---- agreement with plain torch, independently of refbp's verdicts ------------------------------


def _relu_kink(document: dict, implementation_outputs: dict) -> bool:
    """Is a relu-family pre-activation 0 up to rounding (where the slopes may differ)?"""
    network = document["network"]

    def at_zero(net):
        return np.any(np.abs(net) <= 1e-12)

    if network["kind"] == "mlp":
        return any(
            at_zero(implementation_outputs[f"layers.{i}.net"])
            for i, a in enumerate(network["activations"])
            if a in ("relu", "leaky_relu")
        )
    return (network.get("nonlinearity", "tanh") == "relu" and at_zero(implementation_outputs["rnn.net"])) or (
        network.get("output_activation") in ("relu", "leaky_relu") and at_zero(implementation_outputs["readout.net"])
    )


def _bce_ill_conditioned(document: dict, outputs) -> bool:
    """bce at an output within 1e-6 of 0 or 1: one unit in the last place of y moves log(1 - y)
    (or torch's 1e-12 floor) by more than 1e-10, so two correct sigmoids that round differently
    by one ulp give different losses there, and only there are they compared loosely (skipped)."""
    return document["loss"] == "bce" and bool(np.any(np.minimum(outputs, 1 - outputs) < 1e-6))


def _error(actual, reference) -> float:
    actual, reference = np.asarray(actual, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    assert actual.shape == reference.shape
    return float(np.max(np.abs(actual - reference), initial=0) / max(1.0, float(np.max(np.abs(reference), initial=0))))


HAND_WRITTEN = [i for i in IMPLEMENTATIONS if i[0].stem != "torch_autograd"]


@pytest.mark.parametrize("path,name", HAND_WRITTEN, ids=[label(*i) for i in HAND_WRITTEN])
def test_agrees_with_plain_torch_float64_where_the_conventions_coincide(path, name):
    torch_factory = load(CORPUS / "torch_autograd.py")
    factory = load(path, name)
    nets = {"mlp": load(CORPUS / "inout_layout_einsum.py"), "rnn": load(CORPUS / "rnn_bptt.py")}
    compared = 0
    for case_path in SUITE:
        document = case_document(load_case(case_path), "float64")
        implementation = factory(document)
        if implementation is None:
            continue
        reference = torch_factory(document)
        params, inputs, targets = document["params"], document["inputs"], document["targets"]
        outputs = reference.forward(params, inputs)
        if _bce_ill_conditioned(document, outputs):
            continue
        # A unit at its kink (up to rounding) takes either slope, and two correct implementations
        # may round a net of 0 to either side (docs/formats.md 4.2): compared within the suite only.
        kind = document["network"]["kind"]
        if _relu_kink(document, nets[kind](document).intermediates(params, inputs)):
            continue
        errors = {
            "outputs": _error(implementation.forward(params, inputs), outputs),
            "loss": _error(implementation.loss(params, inputs, targets), reference.loss(params, inputs, targets)),
        }
        grads, torch_grads = (
            implementation.gradients(params, inputs, targets),
            reference.gradients(params, inputs, targets),
        )
        assert set(grads) == set(torch_grads)
        errors |= {f"grads {k}": _error(grads[k], torch_grads[k]) for k in torch_grads}
        if document.get("train"):
            after, torch_after = implementation.train(params, inputs, targets), reference.train(params, inputs, targets)
            errors |= {f"params_after {k}": _error(after[k], torch_after[k]) for k in torch_after}
        compared += 1
        for what, error in errors.items():
            assert error <= AGREEMENT, f"{case_path.stem}: {what} differs from torch by {error:.3g}"
    assert compared >= 10, compared


# ---- refbp fuzz --impl ----------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("path,name,dtype", FUZZ_RUNS, ids=[f"{label(p, n)}-{d}" for p, n, d in FUZZ_RUNS])
def test_fuzz_finds_nothing(path, name, dtype, tmp_path, capsys):
    code = main(
        [
            "fuzz",
            "--impl",
            spec(path, name),
            "--examples",
            str(FUZZ_EXAMPLES),
            "--dtype",
            dtype,
            "--no-progress",
            "--no-shrink",
            "--save-failures",
            str(tmp_path / "found"),
            "--max-saved",
            "5",
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, out + err[-2000:]
    assert " 0 failed" in out, out


# ---- the results plain torch gives pass refbp verify -------------------------------------------


def test_plain_torch_results_pass_verify(tmp_path, capsys):
    write = load(CORPUS / "torch_results.py", "write_torch_results")
    written = write(tmp_path / "torch-results")
    assert len(written) == len(SUITE)
    code = main(["verify", str(tmp_path / "torch-results"), "--no-report", "--json"])
    out, err = capsys.readouterr()
    verdicts = json.loads(out)
    assert len(verdicts) == len(SUITE)
    failures = failed_lines(verdicts)
    assert code == 0 and not failures, "\n".join(failures) or err[-3000:]
