"""The diagnosis catalogue's entries of issue 28 (item 5): each classic bug planted in an independent
numpy implementation (examples/numpy_mlp.py with one slip) is named by its id, and the same
implementation without the slip passes (fairness)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from helpers import diagnoses
from refbp.cases import parse_case
from refbp.check.check_adapter import check_adapter_case

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
_spec = importlib.util.spec_from_file_location("diagnosis_extended_numpy_mlp", EXAMPLES / "numpy_mlp.py")
numpy_mlp = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(numpy_mlp)

# The ids the slips planted here get (tests/test_diagnosis.py: every catalogued id is planted somewhere).
NAMED = {
    "adam-bias-correction:no-step-power",
    "momentum-rule",
    "weight-decay:twice",
    "weight-decay:missing",
    "loss-gradient:probabilities-as-classes",
    "loss-reduction:summed",
    "loss-reduction:averaged",
    "gradient-clipping",
}


def document(
    loss="mse", activations=("tanh", "identity"), sizes=(3, 4, 3), batch=4, targets=None, train=None, bias=True
):
    targets = targets or {"random": {"seed": 3, "distribution": "normal"}}
    found = {
        "format": "refbp-case/1",
        "id": "planted",
        "loss": loss,
        "network": {"kind": "mlp", "sizes": list(sizes), "activations": list(activations), "bias": bias},
        "params": {"init": {"scheme": "normal", "seed": 1, "scale": 0.7}},
        "inputs": {"random": {"seed": 2, "distribution": "normal", "batch": batch}},
        "targets": targets,
    }
    if train:
        found["train"] = train
    return parse_case(found)


class Planted(numpy_mlp.NumpyMLP):
    """numpy_mlp with one slip switched on (`slip`), in its gradients or in its own update rule."""

    slip = ""
    clip = 0.0

    def gradients(self, params, inputs, targets):
        if self.slip == "probabilities-as-classes":
            targets = np.eye(targets.shape[-1])[np.argmax(targets, axis=-1)]
        grads = super().gradients(params, inputs, targets)
        batch = inputs.shape[0]
        if self.slip == "summed":
            grads = {k: v * batch for k, v in grads.items()}
        if self.slip == "averaged":
            grads = {k: v / batch for k, v in grads.items()}
        if self.slip == "clip-value":
            grads = {k: np.clip(v, -self.clip, self.clip) for k, v in grads.items()}
        if self.slip == "clip-norm":
            norm = np.sqrt(sum(np.sum(v**2) for v in grads.values()))
            grads = {k: v * min(1.0, self.clip / norm) for k, v in grads.items()}
        return grads

    def train(self, params, inputs, targets):
        spec, params = self.train_spec, {k: v.copy() for k, v in params.items()}
        beta1, beta2 = spec.get("betas", (0.9, 0.999))
        decay = spec.get("weight_decay", 0.0) * {"decay-twice": 2.0, "no-decay": 0.0}.get(self.slip, 1.0)
        mu, state = spec.get("momentum", 0.0), {}
        for t in range(1, spec["steps"] + 1):
            grads = self.gradients(params, inputs, targets)
            for name in params:
                g = grads[name] + decay * params[name]
                if spec["optimizer"] == "sgd":
                    if mu and self.slip == "damped-from-zero":
                        g = state[name] = mu * state.get(name, 0.0) + (1.0 - mu) * g
                    elif mu:
                        g = state[name] = mu * state[name] + g if name in state else g
                    params[name] = params[name] - spec["lr"] * g
                    continue
                m, v = state.get(name, (0.0, 0.0))
                m, v = beta1 * m + (1 - beta1) * g, beta2 * v + (1 - beta2) * g * g
                state[name] = (m, v)
                power = 1 if self.slip == "adam-no-power" else t
                params[name] = params[name] - spec["lr"] / (1 - beta1**power) * m / (
                    np.sqrt(v) / np.sqrt(1 - beta2**power) + spec.get("eps", 1e-8)
                )
        return params


def verdict_with(case, slip="", clip=0.0):
    def factory(document_):
        implementation = Planted(document_)
        implementation.slip, implementation.clip = slip, clip
        return implementation

    return check_adapter_case(case, factory, slip or "correct", oracles=("torch",))


ADAM = {"optimizer": "adam", "lr": 0.05, "steps": 3}
MOMENTUM = {"optimizer": "sgd", "lr": 0.1, "momentum": 0.9, "steps": 1}
DECAY = {"optimizer": "sgd", "lr": 0.1, "weight_decay": 0.1, "steps": 2}
SIMPLEX = {"random": {"seed": 4, "distribution": "simplex"}}
CLASSES = {"random": {"seed": 4, "distribution": "classes"}}

PLANTED = [  # (case, slip, quantity, the id)
    (document(train=ADAM), "adam-no-power", "params_after", "adam-bias-correction:no-step-power"),
    (document(train=MOMENTUM), "damped-from-zero", "params_after", "momentum-rule"),
    (document(train=dict(MOMENTUM, steps=3)), "damped-from-zero", "params_after", "momentum-rule"),
    (document(train=DECAY), "decay-twice", "params_after", "weight-decay:twice"),
    (document(train=DECAY), "no-decay", "params_after", "weight-decay:missing"),
    (
        document("cross_entropy", targets=SIMPLEX),
        "probabilities-as-classes",
        "grads",
        "loss-gradient:probabilities-as-classes",
    ),
    (document("cross_entropy", targets=CLASSES), "summed", "grads", "loss-reduction:summed"),
    (
        document("bce", activations=("tanh", "sigmoid"), targets={"random": {"seed": 4, "distribution": "uniform"}}),
        "summed",
        "grads",
        "loss-reduction:summed",
    ),
    (document("half_sse"), "averaged", "grads", "loss-reduction:averaged"),
]


@pytest.mark.parametrize("case, slip, quantity, bug_id", PLANTED, ids=[f"{p[1]}-{p[3]}" for p in PLANTED])
def test_each_new_slip_is_named(case, slip, quantity, bug_id):
    verdict = verdict_with(case, slip)
    assert not verdict.passed
    assert diagnoses(verdict, quantity) == {bug_id}, [
        (c.tensor, c.diagnosis, c.diagnosis_note) for c in verdict.failed_checks()
    ]


@pytest.mark.parametrize(
    "case", sorted({id(p[0]): p[0] for p in PLANTED}.values(), key=lambda c: c.loss + str(c.train))
)
def test_the_same_implementation_without_a_slip_passes(case):
    verdict = verdict_with(case)
    assert verdict.passed, [(c.quantity, c.tensor, c.note) for c in verdict.failed_checks()]


def test_momentum_damped_from_zero_is_no_longer_a_bare_scale():
    verdict = verdict_with(document(train=MOMENTUM), "damped-from-zero")
    notes = {c.diagnosis_note for c in verdict.failed_checks() if c.quantity == "params_after"}
    assert all("(1 - mu)" in note for note in notes) and not any(
        c.diagnosis.startswith("scaled:") for c in verdict.failed_checks()
    )


@pytest.mark.parametrize(
    "slip, words", [("clip-value", "entry by entry at +-0.05"), ("clip-norm", "clipped by its global norm")]
)
def test_gradient_clipping_is_named_with_its_bound(slip, words):
    case = document("half_sse", sizes=(3, 4, 3), batch=6)
    verdict = verdict_with(case, slip, clip=0.05)
    assert diagnoses(verdict, "grads") == {"gradient-clipping"}
    assert any(words in c.diagnosis_note for c in verdict.failed_checks())


def test_one_entry_cut_to_the_largest_is_not_called_clipping():
    from refbp.diagnosis.clipping import clipped

    reference = np.array([[1.0, 2.0], [5.0, -0.5]])
    assert clipped(np.array([[1.0, 2.0], [3.0, -0.5]]), reference, 1e-10, 1e-7) is None
    assert clipped(np.array([[1.0, 1.5], [1.5, -0.5]]), reference, 1e-10, 1e-7)[0] == "gradient-clipping"
