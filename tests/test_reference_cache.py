"""The references `refbp verify` and the service keep per case fingerprint
(refbp.check.references.ReferenceCache): a cached verdict is the uncached one, a wrong answer
still fails naming its tensor, a case that differs in one number never hits another's entry,
and the cache stays within its bounds."""

from __future__ import annotations

import copy
import json

import pytest

from refbp.cases import SUITE_DIR, load_case, parse_case
from refbp.cases.fingerprint import case_hash
from refbp.check.check_case import FRESH, ORACLES
from refbp.check.references import ReferenceCache, References
from refbp.check.results import results_in
from refbp.check.verify import REFERENCES, verify_against
from refbp.loss_forms import LossForms
from refbp.oracle.torch_loss import loss_function
from test_verify import result_document

CASES = [
    SUITE_DIR / "seed" / "seed-2-2-2.json",
    SUITE_DIR / "rnn" / "rnn-truncated-k5.json",
    SUITE_DIR / "mlp" / "mlp-zero-nets-leaky-relu-relu-b4.json",
]


def judged(document, case) -> dict:
    [result] = results_in(document, "result.json")
    verdict = verify_against(result, case, ORACLES, None).to_json()
    verdict.pop("seconds")
    return verdict


def failed_tensors(verdict: dict) -> set:
    return {(c["reference"], c["quantity"], c["tensor"]) for c in verdict["checks"] if not c["passed"]}


def uncached(document, case, monkeypatch) -> dict:
    """The verdict with a cache that never keeps anything: every reference computed afresh."""
    monkeypatch.setattr(REFERENCES, "max_bytes", -1)
    try:
        return judged(document, case)
    finally:
        monkeypatch.undo()


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_a_cached_verdict_is_the_uncached_one(path, monkeypatch):
    case = load_case(path)
    REFERENCES.clear()
    hits = REFERENCES.hits
    fresh = uncached(result_document(path), case, monkeypatch)
    assert len(REFERENCES) == 0 and REFERENCES.hits == hits  # nothing kept, nothing reused
    first = judged(result_document(path), case)  # computes and keeps
    # the torch trace, the finite differences, and the torch trace under each other convention the
    # case reaches (the zero-nets case: relu'(0) = 1)
    others = len(References().admissible(case, "").variants) - 1
    assert len(REFERENCES) == 2 + others
    second = judged(result_document(path), case)  # from the cache
    assert REFERENCES.hits == hits + 2 + others
    assert fresh == first == second and fresh["passed"]


def test_a_wrong_result_still_fails_with_the_tensor_named_and_leaves_the_cache_as_it_was(monkeypatch):
    case = load_case(CASES[0])
    REFERENCES.clear()
    judged(result_document(), case)  # warm
    wrong = result_document()
    wrong["grads"]["layers.0.weight"] = [list(row) for row in zip(*wrong["grads"]["layers.0.weight"])]
    wrong["grads"]["layers.1.weight"][0][1] *= 1.001
    cached = judged(wrong, case)
    assert not cached["passed"]
    failed = failed_tensors(cached)
    assert {
        ("torch-autograd", "grads", "layers.0.weight"),
        ("finite-difference", "grads", "layers.0.weight"),
        ("torch-autograd", "grads", "layers.1.weight"),
        ("finite-difference", "grads", "layers.1.weight"),
    } <= failed
    assert {tensor for _, _, tensor in failed} == {"layers.0.weight", "layers.1.weight"}
    assert cached == uncached(wrong, case, monkeypatch)
    assert judged(result_document(), case)["passed"]  # the failed check changed nothing kept


def test_escalated_finite_differences_do_not_change_the_kept_ones():
    """A result that fails central differences makes the check escalate those entries (writing
    another method's values into the result it is given): the kept result must not see them."""
    case = load_case(CASES[0])
    cache = ReferenceCache()
    forms = LossForms(*loss_function(case))
    first = cache.finite_difference(case, case_hash(case), "central", forms)
    first.grads["layers.0.weight"][0, 0] = 123.0
    again = cache.finite_difference(case, case_hash(case), "central", forms)
    assert again.grads["layers.0.weight"][0, 0] != 123.0
    assert json.dumps({k: v.tolist() for k, v in again.grads.items()}) == json.dumps(
        {k: v.tolist() for k, v in FRESH.finite_difference(case, "", "central", forms).grads.items()}
    )


def test_a_case_that_differs_in_one_number_never_hits_another_cases_entry():
    document = json.loads(CASES[0].read_text())
    original = parse_case(document)
    changed_document = copy.deepcopy(document)
    changed_document["params"]["layers.0.weight"][0][0] += 1e-3
    changed = parse_case(changed_document)
    assert changed.id == original.id and case_hash(changed) != case_hash(original)
    REFERENCES.clear()
    assert judged(result_document(), original)["passed"]
    # refbp's own answer for the original case, judged against the changed one: the torch
    # reference of the changed case is computed (not the original's reused), so it fails.
    changed_verdict = judged(result_document(), changed)
    assert not changed_verdict["passed"]
    assert ("torch-autograd", "grads", "layers.0.weight") in failed_tensors(changed_verdict)
    assert len(REFERENCES) == 4


def test_the_cache_keeps_at_most_its_entries_and_bytes():
    cases = [load_case(path) for path in CASES]
    cache = ReferenceCache(entries=2)
    for case in cases:
        cache.torch_trace(case, case_hash(case))
    assert len(cache) == 2 and cache.misses == 3
    cache.torch_trace(cases[0], case_hash(cases[0]))  # the oldest was dropped: computed again
    assert cache.misses == 4
    small = ReferenceCache(max_bytes=1)
    small.torch_trace(cases[0], case_hash(cases[0]))
    assert len(small) == 0  # larger than the whole cache: never kept
