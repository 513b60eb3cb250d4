"""Layer cases as data (`refbp-layer-case/1`, docs/formats.md section 12): the shipped cases cover
every function at batch 1, near kinks, large and tiny values, their expected values are torch's in
float64 and the script that wrote them writes them again; the loader refuses a bad case in one line
naming file and field; a folder of whole networks and layer cases works with run, check, cases and
verify; `refbp verify` of layer answers has teeth (a wrong tensor is named) and is fair (correct
answers pass, in either weight layout); fuzz --layer draws input sets that are valid layer cases."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings

from refbp.cases import SUITE_DIR, CaseError
from refbp.cases.layer_case import FUNCTIONS, gradients_of, load_layer_case, parse_layer_case
from refbp.cases.load import discover, load_any
from refbp.cli import main
from refbp.layer.cases import check_cases, find_layer_cases, in_layout
from refbp.layer.draw import layer_examples
from refbp.layer.functions import FUNCTIONS as CHECKED_FUNCTIONS
from refbp.layer.load import load_declaration
from refbp.oracle.torch_layers import layer_reference

ROOT = Path(__file__).resolve().parents[1]
LAYERS = SUITE_DIR / "layers"
CASES = [load_layer_case(p) for p in sorted(LAYERS.glob("*.json"))]
AFFINE = LAYERS / "layer-affine-b4-ordinary.json"


@pytest.fixture(autouse=True)
def no_reference_files(monkeypatch):
    monkeypatch.setenv("REFBP_REFERENCE_CACHE", "none")


def document(path=AFFINE) -> dict:
    return json.loads(Path(path).read_text())


# ---- the shipped cases -------------------------------------------------------------------------


def test_the_cases_cover_every_function_at_batch_1_near_kinks_large_and_tiny():
    assert FUNCTIONS == CHECKED_FUNCTIONS
    assert {c.function for c in CASES} == set(FUNCTIONS)
    for function in FUNCTIONS:
        mine = [c for c in CASES if c.function == function]
        assert {c.batch for c in mine} >= {1, 4}, function
        assert {"tiny"} <= {t for c in mine for t in c.tags}, function
    for function in ("relu", "leaky_relu", "elu"):
        near = [c for c in CASES if c.function == function and "near_kink" in c.tags]
        assert near and all(0 < np.abs(c.inputs["x"]).max() <= 1e-3 and np.all(c.inputs["x"] != 0) for c in near)
    for function in ("sigmoid", "tanh"):
        assert any(np.abs(c.inputs["x"]).min() >= 5 for c in CASES if c.function == function and "large" in c.tags)
    assert {c.layout for c in CASES if c.function in ("affine", "rnn_step", "rnn")} == {"out_in", "in_out"}


def test_upstream_gradients_are_random_never_all_ones():
    for case in CASES:
        upstream = np.asarray(case.upstream)
        assert np.any(upstream != 1.0) and np.any(upstream != 0.0), case.id
        if upstream.ndim:
            assert len(np.unique(upstream)) == upstream.size, case.id


def test_expected_values_are_torch_float64_and_the_generator_is_recorded():
    for case in CASES:
        assert case.document["generator"] == {
            "script": "scripts/make_layer_cases.py",
            "command": "python scripts/make_layer_cases.py",
        }
        assert "torch" in case.document["expected"]["reference"] and "float64" in case.document["expected"]["reference"]
        output, grads = layer_reference(case.function, case.inputs, case.upstream, case.layout)
        np.testing.assert_allclose(case.output, output, rtol=1e-12, atol=1e-15, err_msg=case.id)
        for name in gradients_of(case.function):
            np.testing.assert_allclose(case.grads[name], grads[name], rtol=1e-12, atol=1e-15, err_msg=case.id)


def test_the_generator_writes_the_same_cases_again(tmp_path):
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "make_layer_cases.py"), str(tmp_path)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    again = sorted(tmp_path.glob("*.json"))
    assert [p.name for p in again] == sorted(p.name for p in LAYERS.glob("*.json"))
    for path in again:
        made, shipped = json.loads(path.read_text()), json.loads((LAYERS / path.name).read_text())
        assert made["inputs"] == shipped["inputs"] and made["upstream"] == shipped["upstream"], path.name
        np.testing.assert_allclose(
            np.asarray(made["expected"]["output"]), np.asarray(shipped["expected"]["output"]), rtol=1e-12, atol=1e-15
        )


# ---- the loader --------------------------------------------------------------------------------


def edited(change) -> dict:
    doc = copy.deepcopy(document())
    change(doc)
    return doc


@pytest.mark.parametrize(
    "change, field, words",
    [
        (lambda d: d["inputs"].pop("b"), "inputs.b", "is missing"),
        (lambda d: d["inputs"].update(h=[[1.0]]), "inputs.h", "affine takes no input 'h'"),
        (
            lambda d: d["inputs"].update(w=np.ones((3, 4)).tolist()),
            "inputs.w",
            "shape [3, 4] does not match the expected shape [3, 3]",
        ),
        (lambda d: d.update(upstream=np.ones((4, 4)).tolist()), "upstream", "all ones hides a transposed"),
        (lambda d: d.update(upstream=np.zeros((4, 4)).tolist()), "upstream", "all zeros"),
        (lambda d: d.update(upstream=[[1.0, 2.0]]), "upstream", "does not match the expected shape [4, 4]"),
        (lambda d: d["expected"]["grads"].pop("w"), "expected.grads.w", "is missing"),
        (lambda d: d["expected"]["grads"].update(h0=[[1.0]]), "expected.grads.h0", "affine has no gradient 'h0'"),
        (lambda d: d.update(layout="sideways"), "layout", "unknown layout 'sideways'"),
        (lambda d: d.update(id="another-name"), "id", "differs from the file name"),
        (lambda d: d.update(function="conv2d"), "function", "unknown layer function 'conv2d'"),
        (lambda d: d.update(format="refbp-layer-case/2"), "format", "unknown format"),
    ],
)
def test_a_bad_layer_case_is_one_line_naming_file_and_field(change, field, words):
    with pytest.raises(CaseError) as raised:
        parse_layer_case(edited(change), AFFINE)
    assert raised.value.field == field and words in raised.value.problem
    assert str(raised.value).startswith(f"{AFFINE}: {field}: ") and "\n" not in str(raised.value)


def test_class_targets_layout_and_bce_ranges_are_checked():
    ce = document(LAYERS / "layer-softmax-cross-entropy-b4-ordinary.json")
    with pytest.raises(CaseError, match=r"inputs.y\[0\]: class index 7 is outside \[0, 3\]"):
        parse_layer_case(
            dict(ce, inputs=dict(ce["inputs"], y=[7, 0, 1, 2])), LAYERS / "layer-softmax-cross-entropy-b4-ordinary.json"
        )
    relu = document(LAYERS / "layer-relu-b4-ordinary.json")
    with pytest.raises(CaseError, match="relu has no weights to lay out"):
        parse_layer_case(dict(relu, layout="out_in"), LAYERS / "layer-relu-b4-ordinary.json")
    bce = document(LAYERS / "layer-bce-b4-ordinary.json")
    with pytest.raises(CaseError, match=r"inputs.x\[0\]\[0\]: 1 is outside \(0, 1\)"):
        x = bce["inputs"]["x"]
        parse_layer_case(
            dict(bce, inputs=dict(bce["inputs"], x=[[1.0, *x[0][1:]], *x[1:]])), LAYERS / "layer-bce-b4-ordinary.json"
        )


def test_the_loader_reads_every_file_by_its_format(tmp_path):
    shutil.copy(AFFINE, tmp_path)
    shutil.copy(SUITE_DIR / "seed" / "seed-2-2-2.json", tmp_path)
    layers: list = []
    assert [p.name for p in discover([tmp_path], layer_files=layers)] == ["seed-2-2-2.json"]
    assert [p.name for p in layers] == [AFFINE.name]
    assert type(load_any(tmp_path / AFFINE.name)).__name__ == "LayerCase"
    assert type(load_any(tmp_path / "seed-2-2-2.json")).__name__ == "Case"
    from refbp.cases import load_case

    with pytest.raises(CaseError, match="is a layer format"):
        load_case(tmp_path / AFFINE.name)


# ---- mixed folders on the command line ---------------------------------------------------------


@pytest.fixture
def mixed(tmp_path) -> Path:
    folder = tmp_path / "mixed"
    folder.mkdir()
    shutil.copy(SUITE_DIR / "seed" / "seed-2-2-2.json", folder)
    for name in ("layer-affine-b1-ordinary", "layer-relu-b4-near-kink", "layer-rnn-b1-ordinary-in-out"):
        shutil.copy(LAYERS / f"{name}.json", folder)
    return folder


def test_run_checks_the_whole_networks_and_notes_the_layer_cases(capsys, mixed):
    assert main(["run", str(mixed), "--no-report", "--no-progress"]) == 0
    out, err = capsys.readouterr()
    assert "seed-2-2-2" in out and "layer-affine" not in out
    assert "refbp: note: 3 layer case(s) (refbp-layer-case/1) not checked: `refbp run` checks refbp's whole" in err
    assert main(["run", str(LAYERS / "layer-affine-b1-ordinary.json"), "--no-report"]) == 2
    assert "nothing to check: 1 layer case(s)" in capsys.readouterr().err


def test_cases_list_and_export_take_both(capsys, mixed, tmp_path):
    assert main(["cases", "list", str(mixed)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4 and any("layer rnn" in line and "in_out b1" in line for line in lines)
    out = tmp_path / "out"
    assert main(["cases", "export", str(out), str(mixed)]) == 0
    capsys.readouterr()
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [p.name for p in mixed.iterdir()] + ["refbp-case-1.schema.json", "refbp-layer-case-1.schema.json"]
    )
    assert json.loads((out / AFFINE.name.replace("b4", "b1")).read_text()) == document(
        LAYERS / "layer-affine-b1-ordinary.json"
    )
    assert main(["cases", "export", str(out), str(mixed)]) == 2  # never overwritten without --force
    assert "already exists" in capsys.readouterr().err


def test_check_layer_on_the_cases_names_a_bug_and_passes_the_correct_module(capsys, mixed):
    code = main(
        ["check", "--layer", str(ROOT / "examples/layers/cs231n_layers.py"), str(mixed), "--json", "--no-report"]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    assert [v["case"] for v in json.loads(out)] == [
        "layer-affine-b1-ordinary",
        "layer-relu-b4-near-kink",
        "layer-rnn-b1-ordinary-in-out",
    ]
    assert "1 whole-network case(s) not checked" in err
    code = main(
        [
            "check",
            "--layer",
            str(ROOT / "examples/layers/cs231n_bug_bias.py"),
            str(LAYERS / "layer-affine-b4-ordinary.json"),
            "--json",
            "--no-report",
        ]
    )
    verdict = json.loads(capsys.readouterr().out)[0]
    assert code == 1
    assert {(c["tensor"], c["diagnosis"]) for c in verdict["checks"] if not c["passed"]} == {
        ("affine.b", "bias-not-summed-over-batch")
    }
    # (its db of shape [B, M] is no gradient its own forward's differences can be laid beside)
    assert {c["reference"] for c in verdict["checks"] if not c["passed"]} == {"torch-autograd", "expected"}


def test_each_declared_layout_gets_the_weights_it_expects():
    cs231n = load_declaration(str(ROOT / "examples/layers/cs231n_layers.py"))  # (in, out)
    verdicts, left = check_cases(cs231n, [c for c in CASES if c.function in ("affine", "rnn_step", "rnn")], "t")
    assert not left and len(verdicts) == 19 and all(v.passed for v in verdicts)
    case = next(c for c in CASES if c.layout == "in_out" and c.function == "affine")
    example, _, grads = in_layout(case, "out_in")
    assert np.array_equal(example.inputs["w"], case.inputs["w"].T) and np.array_equal(grads["w"], case.grads["w"].T)


# ---- refbp verify of layer answers -------------------------------------------------------------


def answer(case_path=AFFINE, **change) -> dict:
    doc = document(case_path)
    result = {
        "format": "refbp-layer-result/1",
        "case": doc["id"],
        "implementation": "mine",
        "output": doc["expected"]["output"],
        "grads": copy.deepcopy(doc["expected"]["grads"]),
    }
    result.update(change)
    return result


def verify(capsys, tmp_path, *results, extra=()) -> tuple[int, list, str]:
    for i, result in enumerate(results):
        (tmp_path / f"r{i}.json").write_text(json.dumps(result))
    code = main(
        [
            "verify",
            *[str(tmp_path / f"r{i}.json") for i in range(len(results))],
            "--json",
            "--no-report",
            "--no-progress",
            *extra,
        ]
    )
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else []), err


def test_correct_answers_pass_in_either_layout(capsys, tmp_path):
    doc = document()
    transposed = dict(doc["expected"]["grads"], w=np.asarray(doc["expected"]["grads"]["w"]).T.tolist())
    ce = LAYERS / "layer-softmax-cross-entropy-b1-ordinary.json"
    code, verdicts, err = verify(
        capsys,
        tmp_path,
        answer(),
        answer(LAYERS / "layer-rnn-b4-ordinary.json"),
        answer(ce),
        dict(answer(LAYERS / "layer-affine-b1-ordinary.json")),
        dict(
            answer(layout="in_out", grads=transposed),
            case="layer-affine-b4-large",
            output=document(LAYERS / "layer-affine-b4-large.json")["expected"]["output"],
        ),
    )
    assert code == 1  # the last: another case's numbers
    assert [v["state"] for v in verdicts[:4]] == ["pass"] * 4, err
    code, verdicts, err = verify(capsys, tmp_path, answer(layout="in_out", grads=transposed))
    assert code == 0 and verdicts[0]["state"] == "pass", err


def test_a_wrong_answer_fails_naming_the_tensor(capsys, tmp_path):
    doc = document()
    grads = dict(doc["expected"]["grads"], w=(np.asarray(doc["expected"]["grads"]["w"]).T * 1.0).tolist())
    x = np.asarray(doc["expected"]["grads"]["x"])
    x[2, 1] += 1e-3
    code, verdicts, _ = verify(capsys, tmp_path, answer(grads=grads))
    assert code == 1
    first = {(c["tensor"], c["reference"], c.get("diagnosis")) for c in verdicts[0]["checks"] if not c["passed"]}
    assert first == {("affine.w", "torch-autograd", "transposed"), ("affine.w", "expected", "transposed")}
    code, verdicts, _ = verify(
        capsys, tmp_path, answer(grads=dict(grads, x=x.tolist(), w=doc["expected"]["grads"]["w"]))
    )
    assert code == 1
    second = [c for c in verdicts[0]["checks"] if not c["passed"]]
    assert {c["tensor"] for c in second} == {"affine.x"} and all(c["worst_index"] == [2, 1] for c in second)


def test_a_partial_answer_is_partial_and_require_all_fails_it(capsys, tmp_path):
    result = answer()
    result["grads"].pop("b")
    result.pop("output")
    code, verdicts, _ = verify(capsys, tmp_path, result)
    assert code == 0 and verdicts[0].get("partial") and verdicts[0]["not_provided"] == ["outputs", "grads.b"]
    code, verdicts, _ = verify(capsys, tmp_path, result, extra=("--require", "all"))
    assert code == 1 and verdicts[0]["state"] == "fail"


@pytest.mark.parametrize("value", [None, [[None, 1.0, 2.0, 3.0]] * 3 + [[1.0] * 4]])
def test_null_and_nan_answers_are_failed_rows(capsys, tmp_path, value):
    grads = dict(document()["expected"]["grads"], w=value)
    code, verdicts, _ = verify(capsys, tmp_path, answer(grads=grads))
    assert code == 1 and {c["tensor"] for c in verdicts[0]["checks"] if not c["passed"]} == {"affine.w"}


@pytest.mark.parametrize(
    "change, words",
    [
        ({"case": "layer-nothing-like-it"}, "case: unknown layer case 'layer-nothing-like-it'"),
        ({"grads": {"h0": [[1.0]]}}, "grads.h0: affine has no gradient 'h0'"),
        ({"grads": {"w": [[1.0], [1.0, 2.0]]}}, "grads.w[1]: ragged"),
        ({"outputs": [[1.0]]}, "outputs: unknown field"),
    ],
)
def test_bad_layer_results_are_bad_input_in_one_line(capsys, tmp_path, change, words):
    code, _, err = verify(capsys, tmp_path, answer(**change))
    assert code == 2 and words in err


def test_a_second_result_for_a_case_is_bad_input(capsys, tmp_path):
    code, _, err = verify(capsys, tmp_path, answer(), answer())
    assert code == 2 and "a second result for 'layer-affine-b4-ordinary'" in err


def test_verify_takes_a_folder_of_whole_network_and_layer_results(capsys, tmp_path):
    from refbp.cases import load_case
    from refbp.check.results import answer_document
    from refbp.nn import compute_trace

    seed = load_case(SUITE_DIR / "seed" / "seed-2-2-2.json")
    (tmp_path / "seed.json").write_text(json.dumps(answer_document(seed.id, "mine", compute_trace(seed))))
    (tmp_path / "affine.json").write_text(json.dumps(answer()))
    code = main(["verify", str(tmp_path), "--json", "--no-report", "--no-progress"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert sorted(v["case"] for v in json.loads(out)) == ["layer-affine-b4-ordinary", "seed-2-2-2"]


# ---- fuzz --layer draws layer cases ------------------------------------------------------------


@pytest.mark.parametrize("function", ["affine", "cross_entropy", "bce", "rnn_step", "rnn", "softmax", "mse"])
def test_fuzz_draws_input_sets_that_are_valid_layer_cases(function):
    """What `fuzz --layer` draws (refbp.layer.draw.layer_examples, hypothesis) written as a layer case
    reads back: the same inputs, the expected values torch's."""

    @settings(max_examples=15, deadline=None, database=None)
    @given(layer_examples(function, "out_in"))
    def round_trip(example):
        output, grads = layer_reference(function, example.inputs, example.upstream, "out_in")
        doc = {
            "format": "refbp-layer-case/1",
            "id": "drawn",
            "function": function,
            "inputs": {k: np.asarray(v).tolist() for k, v in example.inputs.items()},
            "upstream": np.asarray(example.upstream).tolist(),
            "expected": {
                "output": np.asarray(output).tolist(),
                "grads": {n: grads[n].tolist() for n in gradients_of(function)},
            },
        }
        if function in ("affine", "rnn_step", "rnn"):
            doc["layout"] = "out_in"
        upstream = np.asarray(example.upstream)
        if upstream.size > 1 and np.all(upstream == 1.0):
            return  # all ones: refused by the format (and rare in a draw)
        case = parse_layer_case(doc)
        assert set(case.inputs) == set(example.inputs)
        for name, value in example.inputs.items():
            assert np.array_equal(case.inputs[name], value)

    round_trip()


def test_find_layer_cases_reports_a_bad_file_and_goes_on(tmp_path):
    shutil.copy(AFFINE, tmp_path)
    (tmp_path / "layer-bad.json").write_text(json.dumps(dict(document(), id="layer-bad", function="relu")))
    found = find_layer_cases([tmp_path])
    assert [c.id for c in found.cases] == ["layer-affine-b4-ordinary"]
    assert len(found.bad) == 1 and "layer-bad.json: layout: relu has no weights to lay out" in found.bad[0].errors[0]


def test_fuzz_layer_saves_its_failures_as_layer_cases_that_check_again(capsys, tmp_path):
    buggy, correct = (str(ROOT / "examples/layers" / name) for name in ("cs231n_bug_relu.py", "cs231n_layers.py"))
    saved = tmp_path / "found"
    assert main(["fuzz", "--layer", buggy, "--examples", "4", "--save-failures", str(saved)]) == 1
    out = capsys.readouterr().out
    files = sorted(saved.glob("*.json"))
    assert [p.name.startswith("fuzz-relu-") for p in files] == [True] and f"saved {files[0]}" in out
    case = load_layer_case(files[0])
    assert case.function == "relu" and "regression" in case.tags and "--seed 0" in case.source
    assert main(["check", "--layer", buggy, str(saved), "--no-report"]) == 1
    assert main(["check", "--layer", correct, str(saved), "--no-report"]) == 0


def test_a_fifo_among_the_paths_is_never_read_to_find_its_format(tmp_path):
    """A FIFO (or any non-regular file) is left to the loader, which refuses it in one line: reading
    it to peek at its `format` would block forever."""
    import os

    from refbp.cases.layer_case import layer_format

    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    assert layer_format(fifo) == ""
    layers: list = []
    assert discover([fifo, tmp_path], [], layer_files=layers) == [fifo, fifo] and layers == []
