"""The published worked examples (cases/published/) and the per-value printed precision
(`expected.decimals`) that judges them.

Every published case cites an addressable source, passes every reference, and fails when
one printed digit of it is changed; `expected.decimals` holds each value to half a unit in
its own last printed digit.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest

from helpers import check, failed_rows, write_case
from refbp.cases import SUITE_DIR, CaseError, parse_case
from refbp.cli import main

PUBLISHED = SUITE_DIR / "published"
PUBLISHED_FILES = sorted(PUBLISHED.glob("*.json"))
ERRATA = Path(__file__).resolve().parents[1] / "docs" / "errata.md"

URL = re.compile(r"https?://[^\s,;()]+\.[^\s,;()]+")
LOCATOR = re.compile(r"\b(Example|Table|Figure|Section|Chapter|p\.|pp\.)\s*\d", re.IGNORECASE)
YEAR = re.compile(r"\((1[89]|20)\d\d\)|\bn\.d\.")
SCALARS = ("loss", "loss_after")


def document(path: Path) -> dict:
    return json.loads(path.read_text())


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


# ---- the suite -------------------------------------------------------------------------
def test_at_least_eight_distinct_published_sources():
    docs = [document(p) for p in PUBLISHED_FILES]
    originals = [d for d in docs if "erratum-variant" not in d.get("tags", [])]
    assert len(originals) >= 8
    assert len({d["source"] for d in originals}) == len(originals)
    assert any(d["network"]["kind"] == "rnn" for d in originals)


@pytest.mark.parametrize("path", PUBLISHED_FILES, ids=lambda p: p.stem)
def test_every_published_case_cites_an_addressable_source(path):
    source = document(path)["source"]
    assert YEAR.search(source), f"{path.name}: the source gives no year (or n.d.)"
    assert URL.search(source) or LOCATOR.search(source), (
        f"{path.name}: the source has neither an http(s) address nor a locator (Example, Table, p. ...)"
    )


@pytest.mark.parametrize("path", PUBLISHED_FILES, ids=lambda p: p.stem)
def test_every_published_case_is_in_the_errata_document(path):
    assert f"`{path.stem}`" in ERRATA.read_text(), f"docs/errata.md does not name {path.stem}"


def test_published_cases_pass_every_reference(capsys):
    code, out, _ = run_cli(capsys, "run", PUBLISHED, "--no-report", "--no-progress")
    assert code == 0, out
    assert f"{len(PUBLISHED_FILES)}/{len(PUBLISHED_FILES)} cases passed" in out


@pytest.mark.parametrize("path", PUBLISHED_FILES, ids=lambda p: p.stem)
def test_every_published_case_judges_printed_values(path):
    verdict = check(parse_case(document(path), path), oracles=("expected",))
    assert verdict.passed
    assert sum(c.checked for c in verdict.checks) >= 2


# ---- teeth: one printed digit changed -----------------------------------------------------
def first_printed_entry(doc: dict, quantity: str):
    """(tensor, index, value, unit of its last printed digit) of the first non-null value."""
    expected = doc["expected"]
    if quantity in SCALARS or quantity == "outputs":
        tensors = {quantity: expected[quantity]}
    else:
        tensors = expected[quantity]
    for tensor, value in tensors.items():
        for index, entry in _entries(value):
            if entry is not None:
                key = quantity if (quantity in SCALARS or quantity == "outputs") else f"{quantity}.{tensor}"
                return tensor, index, entry, _unit(expected, key, index)
    raise AssertionError(f"no printed value in {quantity}")


def _entries(value, index=()):
    if isinstance(value, list):
        for i, item in enumerate(value):
            yield from _entries(item, index + (i,))
    else:
        yield index, value


def _unit(expected: dict, key: str, index) -> float:
    decimals = expected.get("decimals", {}).get(key)
    if isinstance(decimals, list):
        for i in index:
            decimals = decimals[i]
    if decimals is not None:
        return 10.0**-decimals
    assert expected["tolerance"]["rtol"] == 0
    return 2 * expected["tolerance"]["atol"]  # atol is half a unit of the printed digit


def _set(doc: dict, quantity: str, tensor: str, index, value):
    if quantity in SCALARS:
        doc["expected"][quantity] = value
        return
    target = doc["expected"][quantity] if quantity == "outputs" else doc["expected"][quantity][tensor]
    for i in index[:-1]:
        target = target[i]
    target[index[-1]] = value


ALTERATIONS = [
    (p, q)
    for p in PUBLISHED_FILES
    for q in ("outputs", "loss", "intermediates", "grads", "params_after")
    if q in document(p)["expected"]
]


@pytest.mark.parametrize("path,quantity", ALTERATIONS, ids=lambda v: getattr(v, "stem", v))
@pytest.mark.parametrize("direction", [1, -1])
def test_one_printed_digit_changed_fails_naming_the_quantity(tmp_path, capsys, path, quantity, direction):
    doc = document(path)
    tensor, index, value, unit = first_printed_entry(doc, quantity)
    altered = copy.deepcopy(doc)
    _set(altered, quantity, tensor, index, value + direction * unit)
    case_file = write_case(tmp_path, altered)
    code, out, _ = run_cli(capsys, "run", case_file, "--oracle", "expected", "--no-report", "--no-progress")
    assert code == 1, out
    named = "loss" if quantity in SCALARS else tensor
    assert f"{doc['id']}: {quantity} {named}" in out and "vs expected" in out, out


# ---- expected.decimals ------------------------------------------------------------------
def identity_case(printed, decimals=None, tolerance=5e-9) -> dict:
    """Two identity units copying inputs 0.12, 0.34: outputs exactly those numbers."""
    expected = {"tolerance": {"atol": tolerance, "rtol": 0}, "outputs": [printed]}
    if decimals is not None:
        expected["decimals"] = {"outputs": decimals}
    return {
        "format": "refbp-case/1",
        "id": "printed-precision",
        "source": "test (2026), tests/test_published.py",
        "network": {"kind": "mlp", "sizes": [2, 2], "activations": ["identity"], "bias": False},
        "loss": "half_sse",
        "params": {"layers.0.weight": [[1.0, 0.0], [0.0, 1.0]]},
        "inputs": [[0.12, 0.34]],
        "targets": [[0.0, 0.0]],
        "expected": expected,
    }


def judge(doc):
    verdict = check(parse_case(doc), oracles=("expected",))
    (row,) = verdict.checks
    return verdict.passed, row


@pytest.mark.parametrize(
    "printed,decimals,passes,worst",
    [
        ([0.1204, 0.3404], [[3, 3]], True, None),  # 4e-4 within half a unit of the 3rd decimal (5e-4)
        ([0.1204, 0.3404], [[3, 4]], False, [0, 1]),  # the second value's own half unit is 5e-5
        ([0.1204, 0.3404], [[4, 3]], False, [0, 0]),
        ([0.1204, 0.3404], 3, True, None),  # one number for every entry
        ([0.1204, 0.3404], 4, False, None),
        ([0.12049, 0.34], [[3, 2]], True, None),  # 4.9e-4 < 5e-4
        ([0.12051, 0.34], [[3, 2]], False, [0, 0]),  # 5.1e-4 > 5e-4
    ],
)
def test_each_value_is_judged_within_half_a_unit_of_its_own_last_digit(printed, decimals, passes, worst):
    passed, row = judge(identity_case([printed[0], printed[1]], decimals))
    assert passed is passes
    assert row.rtol == 0 and row.atol == pytest.approx(max(0.5 * 10.0**-d for d in _flat(decimals)))
    if worst is not None:
        assert row.worst_index == worst


def _flat(decimals):
    return [decimals] if isinstance(decimals, int) else [d for row in decimals for d in row]


def test_a_null_decimal_falls_back_to_the_case_tolerance():
    # 4e-4 off in the first entry: inside a tolerance of 5e-4, outside one of 5e-9
    assert judge(identity_case([0.1204, 0.34], [[None, 2]], tolerance=5e-4))[0]
    assert not judge(identity_case([0.1204, 0.34], [[None, 2]], tolerance=5e-9))[0]


def test_without_decimals_the_case_tolerance_still_governs():
    assert not judge(identity_case([0.1204, 0.3404], None, tolerance=5e-9))[0]
    assert judge(identity_case([0.1204, 0.3404], None, tolerance=5e-4))[0]


@pytest.mark.parametrize(
    "decimals,field,problem",
    [
        ({"loss": 4}, "expected.decimals.loss", "names no published value"),
        ({"grads.layers.0.weight": 4}, "expected.decimals.grads.layers.0.weight", "names no published value"),
        ({"outputs": 2.5}, "expected.decimals.outputs", "whole number"),
        ({"outputs": -1}, "expected.decimals.outputs", "outside"),
        ({"outputs": [[3]]}, "expected.decimals.outputs", "shape"),
        ({"outputs": [[3, 4.5]]}, "expected.decimals.outputs[0][1]", "whole number of decimals"),
    ],
)
def test_bad_decimals_are_refused_naming_the_field(decimals, field, problem):
    doc = identity_case([0.12, 0.34])
    doc["expected"]["decimals"] = decimals
    with pytest.raises(CaseError) as info:
        parse_case(doc)
    assert info.value.field == field and problem in info.value.problem, str(info.value)


def test_decimals_survive_export(tmp_path, capsys):
    path = PUBLISHED / "pythonandml-3-2-2-sigmoid.json"
    code, _, _ = run_cli(capsys, "cases", "export", tmp_path, path)
    assert code == 0
    exported = json.loads((tmp_path / path.name).read_text())
    assert exported["expected"]["decimals"] == document(path)["expected"]["decimals"]
    assert not failed_rows(check(parse_case(exported), oracles=("expected",)))
