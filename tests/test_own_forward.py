"""The own-forward-fd rows of `refbp check --impl` (refbp.check.own_forward): random directions
over every entry, narrowed down by bisection only where one fails. They call the
implementation's loss a few dozen times instead of twice per entry, use its optional
`loss_batch`, and keep their teeth: a wrong entry of one tensor fails that tensor's row naming
the entry, every verdict is the one finite differences entry by entry gave before."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from refbp.bench.check import case_file
from refbp.bench.fd import make_case
from refbp.cases import SUITE_DIR, load_case, parse_case
from refbp.check.adapter import answer, load_factory, own_loss_function
from refbp.check.check_adapter import OWN_FORWARD_REFERENCE, check_adapter_case
from refbp.check.fd_rows import finite_difference_checks
from refbp.check.references import FRESH
from refbp.loss_forms import LossForms
from refbp.oracle.torch_loss import loss_function as torch_loss_function

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
CORRECT = load_factory(f"{EXAMPLES / 'numpy_mlp.py'}:factory")
MLP = SUITE_DIR / "mlp"


def bench_case(sizes, activation: str):
    return parse_case(case_file(make_case(sizes, activation=activation)))


class Counted:
    """numpy_mlp.py with its calls counted; `batch` False hides its loss_batch; `bug(name, grads)`
    changes the gradients it answers; `batch_offset` makes loss_batch wrong by that much."""

    calls: ClassVar[dict] = {}

    def __init__(self, document, batch=True, bug=None, batch_offset=0.0):
        self.inner, self.bug, self.batch_offset = CORRECT(document), bug, batch_offset
        if batch:
            self.loss_batch = self._loss_batch

    def forward(self, *args):
        return self.inner.forward(*args)

    def loss(self, *args):
        Counted.calls["loss"] = Counted.calls.get("loss", 0) + 1
        return self.inner.loss(*args)

    def _loss_batch(self, params_list, *args):
        Counted.calls["loss_batch"] = Counted.calls.get("loss_batch", 0) + 1
        Counted.calls["points"] = Counted.calls.get("points", 0) + len(params_list)
        return [value + self.batch_offset for value in self.inner.loss_batch(params_list, *args)]

    def gradients(self, *args):
        grads = self.inner.gradients(*args)
        return grads if self.bug is None else self.bug(grads)

    def intermediates(self, *args):
        return self.inner.intermediates(*args)


def factory(**options):
    Counted.calls = {}
    return lambda document: Counted(document, **options)


def own_rows(verdict) -> dict:
    return {c.tensor: c for c in verdict.checks if c.reference == OWN_FORWARD_REFERENCE}


def one_entry(tensor: str, index: tuple, delta: float):
    def bug(grads):
        grads = dict(grads)
        grads[tensor] = np.array(grads[tensor], dtype=np.float64, copy=True)
        grads[tensor][index] += delta
        return grads

    return bug


def test_a_correct_implementation_is_checked_in_a_few_dozen_calls_of_its_loss():
    case = bench_case((32, 64, 64, 10), "relu")  # 6,922 parameters: 13,844 calls entry by entry
    verdict = check_adapter_case(case, factory(batch=False), "counted")
    assert verdict.passed, [(c.reference, c.tensor, c.note) for c in verdict.failed_checks()]
    rows = own_rows(verdict)
    assert set(rows) == set(case.params) and all(r.passed and r.method == "directional" for r in rows.values())
    assert sum(r.checked for r in rows.values()) == 6922
    assert "judged (along random directions)" in rows["layers.0.weight"].note
    assert Counted.calls["loss"] <= 40 and "loss_batch" not in Counted.calls


def test_loss_batch_is_used_where_the_implementation_offers_it():
    case = bench_case((32, 64, 64, 10), "sigmoid")
    verdict = check_adapter_case(case, factory(), "batched")
    assert verdict.passed
    assert Counted.calls["loss_batch"] <= 3 and Counted.calls["loss"] <= 4  # answer, base point, agreement (2)


def test_loss_batch_is_watched_and_timed_as_every_call():
    from refbp.parallel.guarded_worker import CODES

    assert "loss_batch" in CODES  # refbp.parallel.watch times it, and names it when it hangs or exits


def test_a_loss_batch_that_disagrees_with_loss_is_set_aside_with_a_note():
    case = bench_case((32, 64, 64, 10), "sigmoid")
    verdict = check_adapter_case(case, factory(batch_offset=1e-6), "wrong batch")
    assert verdict.passed
    assert all("loss_batch disagreed with loss" in r.note for r in own_rows(verdict).values())
    assert Counted.calls["loss_batch"] == 1 and Counted.calls["loss"] > 10


@pytest.mark.parametrize(
    "sizes, activation, tensor, index, delta",
    [
        ((32, 64, 64, 10), "relu", "layers.1.weight", (17, 40), 1e-4),
        ((32, 64, 64, 10), "sigmoid", "layers.0.bias", (5,), -3e-5),
        ((32, 64, 64, 10), "sigmoid", "layers.2.weight", (9, 63), 2e-6),
    ],
)
def test_a_wrong_entry_of_one_tensor_fails_that_tensor_naming_the_entry(sizes, activation, tensor, index, delta):
    case = bench_case(sizes, activation)
    verdict = check_adapter_case(case, factory(bug=one_entry(tensor, index, delta)), "one entry")
    rows = own_rows(verdict)
    failed = [name for name, row in rows.items() if not row.passed]
    assert failed == [tensor]
    assert tuple(rows[tensor].worst_index) == index and rows[tensor].max_abs_err == pytest.approx(abs(delta), rel=1e-3)
    assert ("torch-autograd", tensor) in {(c.reference, c.tensor) for c in verdict.failed_checks()}
    assert Counted.calls["points"] < 600  # narrowed down, not judged entry by entry


def test_the_sigmoid_bug_fails_its_own_forward_on_every_tensor_below_a_sigmoid():
    buggy = load_factory(f"{EXAMPLES / 'numpy_mlp_sigmoid_bug.py'}:factory")
    case = load_case(MLP / "mlp-depth4-sigmoid-b8.json")  # 218 parameters: narrowed, not small
    verdict = check_adapter_case(case, buggy, "sigmoid bug")
    own = own_rows(verdict)
    assert not verdict.passed and {n for n, r in own.items() if not r.passed} == set(entrywise(case, buggy))
    assert all(r.diagnosis for r in own.values() if not r.passed)


def entrywise(case, factory) -> list[str]:
    """The tensors the own-forward rows failed before: central differences of every entry of the
    implementation's loss, the torch reference's probe for the kinks."""
    trace = answer(factory, case).trace
    forms = LossForms(own_loss_function(factory, case), torch_loss_function(case)[1])
    rows = finite_difference_checks(case, trace, forms, "central", admissible=FRESH.admissible(case, ""))
    return [r.tensor for r in rows if not r.passed]


PARITY = [
    "mlp-xavier-relu-ce-b64",
    "mlp-depth4-mixed-ce-b24",
    "mlp-ce-classes-d3-b64-adam",
    "mlp-elu-d3-half-sse-b32",
    "mlp-float32-tanh-ce-b32",
    "mlp-leaky-relu-softmax-mse-b20",
    "mlp-relu-d3-mse-b16-adam",
]


@pytest.mark.parametrize("name", PARITY)
@pytest.mark.parametrize("example", ["numpy_mlp.py", "numpy_mlp_elu_bug.py"])
def test_the_verdicts_are_those_of_finite_differences_entry_by_entry(name, example):
    chosen = load_factory(f"{EXAMPLES / example}:factory")
    case = load_case(MLP / f"{name}.json")
    own = own_rows(check_adapter_case(case, chosen, example))
    assert sorted(n for n, r in own.items() if not r.passed) == sorted(entrywise(case, chosen))
