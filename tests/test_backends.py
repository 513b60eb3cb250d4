"""refbp.nn on other Array-API namespaces: torch CPU tensors (always), CUDA tensors (with a GPU).

The same hand-written forward/backward/update must give the numpy path's numbers within the
tolerance policy (the checker's own comparison and tolerance table, not tolerances of ours),
and must pass the references on its own.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from refbp.cases import SUITE_DIR, parse_case
from refbp.check import check_case, refbp_implementation
from refbp.check.check_case import rows
from refbp.check.tolerance import tolerance_for
from refbp.cli import main
from refbp.devices import TorchPlacement
from refbp.nn import compute_trace

REPO = Path(__file__).resolve().parents[1]
HIDDEN = ["identity", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus"]
# (loss, output activation, target distribution): every loss, both kinds of cross-entropy target.
HEADS = [
    ("half_sse", "sigmoid", "normal"),
    ("sse", "tanh", "normal"),
    ("mse", "identity", "normal"),
    ("cross_entropy", "identity", "classes"),
    ("cross_entropy", "identity", "simplex"),
    ("bce", "sigmoid", "uniform"),
    ("mse", "softmax", "uniform"),
]


def mlp_document(i: int) -> dict:
    """Case i: two hidden activations, one head; SGD (momentum, weight decay, a frozen bias) or Adam."""
    loss, output, targets = HEADS[i]
    train = (
        {"optimizer": "sgd", "lr": 0.1, "momentum": 0.9, "weight_decay": 0.01, "steps": 3, "frozen": ["layers.0.bias"]}
        if i % 2 == 0
        else {"optimizer": "adam", "lr": 0.01, "steps": 3, "weight_decay": 0.01}
    )
    return {
        "format": "refbp-case/1",
        "id": f"backend-{i}",
        "dtype": "float32" if i == 3 else "float64",
        "network": {
            "kind": "mlp",
            "sizes": [3, 5, 4, 3],
            "bias": True,
            "activations": [HIDDEN[i % len(HIDDEN)], HIDDEN[(i + 3) % len(HIDDEN)], output],
        },
        "loss": loss,
        "params": {"init": {"scheme": "normal", "seed": i, "scale": 0.7}},
        "inputs": {"random": {"seed": 10 + i, "distribution": "normal", "batch": 6}},
        "targets": {"random": {"seed": 20 + i, "distribution": targets}},
        "train": train,
    }


def rnn_document(nonlinearity: str, readout: str) -> dict:
    return {
        "format": "refbp-case/1",
        "id": f"backend-rnn-{nonlinearity}-{readout}",
        "network": {
            "kind": "rnn",
            "input_size": 3,
            "hidden_size": 4,
            "output_size": 2,
            "nonlinearity": nonlinearity,
            "output_activation": "identity",
            "readout": readout,
        },
        "loss": "mse",
        "params": {"init": {"scheme": "normal", "seed": 5, "scale": 0.5}},
        "inputs": {"random": {"seed": 6, "distribution": "normal", "batch": 3, "steps": 5}},
        "targets": {"random": {"seed": 7, "distribution": "normal"}},
        "train": {"optimizer": "adam", "lr": 0.01, "steps": 2},
    }


DOCUMENTS = [mlp_document(i) for i in range(len(HEADS))] + [
    rnn_document("tanh", "every_step"),
    rnn_document("relu", "last_step"),
]


# Each quantity of a trace as {tensor name: value}, as the checker's rows take them.
QUANTITIES = {
    "outputs": lambda t: {"outputs": t.outputs},
    "loss": lambda t: {"loss": t.loss},
    "intermediates": lambda t: t.intermediates,
    "grads": lambda t: t.grads,
    "input_grads": lambda t: t.input_grads,
    "params_after": lambda t: t.params_after,
    "loss_after": lambda t: {"loss": t.loss_after},
}


def same_as_numpy(case, device: str) -> list:
    """Rows comparing refbp on torch tensors with refbp on numpy, judged as against torch autograd."""
    ours, theirs = compute_trace(case, TorchPlacement(device)), compute_trace(case)
    tol = tolerance_for(case, "torch-autograd")
    return [
        check
        for quantity, named in QUANTITIES.items()
        for check in rows(quantity, named(ours), named(theirs), "refbp-numpy", tol)
    ]


def assert_backend_agrees(document: dict, device: str) -> None:
    case = parse_case(document)
    checks = same_as_numpy(case, device)
    assert len(checks) >= 8
    failed = [(c.quantity, c.tensor, c.note) for c in checks if not c.passed]
    assert not failed, failed
    verdict = check_case(case, refbp_implementation("torch", device), oracles=("torch", "fd"))
    assert verdict.passed, [(c.quantity, c.tensor, c.reference, c.note) for c in verdict.checks if not c.passed]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda d: d["id"])
def test_torch_cpu_tensors_match_numpy(document):
    assert_backend_agrees(document, "cpu")


def test_trace_really_ran_on_torch(monkeypatch):
    """The torch path is not numpy in disguise: refbp's code sees torch tensors."""
    import torch

    from refbp.nn import mlp

    seen = []
    original = mlp.MLP.forward

    def spy(self, xp, params, inputs, *rest, **kw):
        seen.append(type(inputs))
        return original(self, xp, params, inputs, *rest, **kw)

    monkeypatch.setattr(mlp.MLP, "forward", spy)
    compute_trace(parse_case(mlp_document(0)), TorchPlacement("cpu"))
    assert seen and all(t is torch.Tensor for t in seen)


@pytest.mark.cuda
@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda d: d["id"])
def test_cuda_tensors_match_numpy(document):
    assert_backend_agrees(document, "cuda")


# ---- the command line ----------------------------------------------------------------------
def shipped_sample() -> list[Path]:
    """The seed case and the first few shipped MLP and RNN cases."""
    sample = [SUITE_DIR / "seed" / "seed-2-2-2.json"]
    for group, count in (("mlp", 4), ("rnn", 3)):
        sample += sorted((SUITE_DIR / group).glob("*.json"))[:count]
    return sample


def test_run_device_cpu_passes_shipped_cases(tmp_path, capsys):
    code = main(["run", "--device", "cpu", "--no-progress", "--report-dir", str(tmp_path), *map(str, shipped_sample())])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "(torch:cpu)" in (next(tmp_path.glob("run-*")) / "environment.json").read_text()


def test_run_device_auto_without_cuda_means_cpu(tmp_path, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA is available: auto means cuda here")
    code = main(["run", "--device", "auto", "--no-progress", "--no-report", str(SUITE_DIR / "seed")])
    assert code == 0


def test_run_device_cuda_without_cuda_exits_2(capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    code = main(["run", "--device", "cuda", "--no-report", str(SUITE_DIR / "seed")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip().count("\n") == 0 and "CUDA is not available" in err


@pytest.mark.cuda
def test_run_device_cuda_passes_shipped_cases(tmp_path, capsys):
    code = main(
        ["run", "--device", "cuda", "--no-progress", "--report-dir", str(tmp_path), *map(str, shipped_sample())]
    )
    assert code == 0, capsys.readouterr().out


def test_gpu_check_without_cuda_exits_2_and_checks_nothing(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA is available: the script would run for minutes")
    out = tmp_path / "gpu"
    env = dict(os.environ, PYTHON=sys.executable)
    env.pop("OUT", None)
    done = subprocess.run(
        [str(REPO / "scripts" / "gpu-check"), str(out)], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "CUDA is not available" in done.stderr and "nothing was checked" in done.stderr
    assert not out.exists()
