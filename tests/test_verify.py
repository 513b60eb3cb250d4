"""`refbp verify`: another implementation's results, judged quantity by quantity."""

from __future__ import annotations

import json

from refbp.cases import SUITE_DIR, load_case
from refbp.cli import main
from refbp.nn import compute_trace

SEED = SUITE_DIR / "seed" / "seed-2-2-2.json"


def result_document(path=SEED, drop=()):
    """What a correct implementation would write (refbp's own numbers stand in for it)."""
    case = load_case(path)
    trace = compute_trace(case)
    document = {
        "format": "refbp-result/1",
        "case": case.id,
        "implementation": "test-impl 1.0",
        "outputs": trace.outputs.tolist(),
        "loss": trace.loss,
        "grads": {k: v.tolist() for k, v in trace.grads.items()},
    }
    if trace.params_after is not None:
        document["params_after"] = {k: v.tolist() for k, v in trace.params_after.items()}
        document["loss_after"] = trace.loss_after
    for key in drop:
        document.pop(key)
    return document


def verify(capsys, tmp_path, *documents, extra=()):
    paths = []
    for i, document in enumerate(documents):
        path = tmp_path / f"result-{i}.json"
        path.write_text(document if isinstance(document, str) else json.dumps(document))
        paths.append(path)
    code = main(["verify", *map(str, paths), "--no-report", "--json", *extra])
    out, err = capsys.readouterr()
    return code, json.loads(out), err


def test_a_correct_result_passes_and_names_what_is_missing(tmp_path, capsys):
    code, verdicts, _ = verify(capsys, tmp_path, result_document(drop=("loss_after",)))
    assert code == 0
    [verdict] = verdicts
    assert verdict["passed"] and verdict["implementation"] == "test-impl 1.0"
    assert verdict["not_provided"] == ["loss_after"]
    assert {c["reference"] for c in verdict["checks"]} == {"torch-autograd", "finite-difference", "expected"}
    assert {c["quantity"] for c in verdict["checks"]} == {"outputs", "loss", "grads", "params_after"}


def test_one_wrong_entry_fails_with_its_index(tmp_path, capsys):
    document = result_document()
    document["grads"]["layers.0.weight"][1][0] *= 1.001
    code, [verdict], _ = verify(capsys, tmp_path, document)
    assert code == 1 and not verdict["passed"]
    failed = {(c["reference"], c["tensor"], tuple(c["worst_index"])) for c in verdict["checks"] if not c["passed"]}
    assert failed == {("torch-autograd", "layers.0.weight", (1, 0)), ("finite-difference", "layers.0.weight", (1, 0))}


def test_a_bundle_of_generated_cases(tmp_path, capsys):
    bundle = {
        "format": "refbp-results/1",
        "implementation": "bundle-impl",
        "results": [
            result_document(SUITE_DIR / "mlp" / name)
            for name in ("mlp-relu-d3-mse-b16-adam.json", "mlp-float32-tanh-ce-b32.json")
        ],
    }
    code, verdicts, _ = verify(capsys, tmp_path, bundle)
    assert code == 0 and len(verdicts) == 2 and all(v["passed"] for v in verdicts)


def test_bad_results_exit_2_and_good_ones_still_judged(tmp_path, capsys):
    unknown_case = dict(result_document(), case="no-such-case")
    typo = dict(result_document(), gradz={})
    code, verdicts, _err = verify(
        capsys, tmp_path, result_document(), "{not json", unknown_case, typo, result_document()
    )
    assert code == 2
    assert verdicts[0]["passed"]
    messages = [v["errors"][0] for v in verdicts[1:]]
    assert "result-1.json: invalid JSON" in messages[0]
    assert "result-2.json: case: unknown case 'no-such-case'" in messages[1]
    assert "result-3.json: gradz: unknown field" in messages[2]
    assert "result-4.json: case: a second result for 'seed-2-2-2' (the first: " in messages[3]
    assert "result-0.json" in messages[3]


def test_wrong_answers_are_failed_checks_naming_the_tensor(tmp_path, capsys):
    """A transposed tensor, a null, NaN, an infinity, a number beyond float64: exit 1, never bad input."""
    document = result_document()
    document["grads"]["layers.1.weight"] = [[1.0, 2.0]]
    document["grads"]["layers.0.weight"] = None
    document["outputs"] = [[float("nan"), 0.5]]
    document["loss"] = 1e400
    document["params_after"]["layers.0.bias"] = [float("inf"), 0.35]
    code, [verdict], _err = verify(capsys, tmp_path, json.dumps(document).replace("Infinity", "1e999"))
    assert code == 1 and not verdict["errors"] and not verdict["passed"]
    failed = {(c["quantity"], c["tensor"]) for c in verdict["checks"] if not c["passed"]}
    assert failed == {
        ("grads", "layers.1.weight"),
        ("grads", "layers.0.weight"),
        ("outputs", "outputs"),
        ("loss", "loss"),
        ("params_after", "layers.0.bias"),
    }
    notes = {c["tensor"]: c["note"] for c in verdict["checks"] if not c["passed"]}
    assert "wrong answer: shape [1, 2] where the case has [2, 2]" in notes["layers.1.weight"]
    assert "wrong answer: given as null" in notes["layers.0.weight"]
    assert {c["reference"] for c in verdict["checks"] if c["tensor"] == "layers.1.weight"} == {
        "torch-autograd",
        "finite-difference",
        "expected",
    }


def test_a_result_with_nothing_checkable_does_not_pass(tmp_path, capsys):
    code, [verdict], _ = verify(capsys, tmp_path, {"format": "refbp-result/1", "case": "seed-2-2-2"})
    assert code == 1 and not verdict["passed"] and "provides no quantity" in verdict["errors"][0]


def test_rnn_results_including_truncated_bptt(tmp_path, capsys):
    """The finite-difference reference of a truncated case holds the chunk-entering states, as torch's detach()."""
    documents = [
        result_document(SUITE_DIR / "rnn" / name) for name in ("rnn-truncated-k5.json", "rnn-adam-train-relu-h0.json")
    ]
    code, verdicts, _ = verify(capsys, tmp_path, *documents)
    assert code == 0, [c for v in verdicts for c in v["checks"] if not c["passed"]]
    assert all("finite-difference" in {c["reference"] for c in v["checks"]} for v in verdicts)


def test_an_independent_implementation_end_to_end(tmp_path, capsys):
    """examples/independent_mlp.py, which imports nothing of refbp, passes on what it computes."""
    import runpy
    from pathlib import Path

    example = runpy.run_path(str(Path(__file__).parents[1] / "examples" / "independent_mlp.py"))
    assert main(["cases", "export", str(tmp_path / "exported")]) == 0
    example["main"](str(tmp_path / "exported"), str(tmp_path / "results"))
    results = sorted((tmp_path / "results").glob("*.json"))
    assert len(results) >= 5
    capsys.readouterr()
    code = main(["verify", *map(str, results), "--cases", str(tmp_path / "exported"), "--no-report", "--json"])
    verdicts = json.loads(capsys.readouterr().out)
    assert code == 0 and all(v["passed"] for v in verdicts)
    assert all("params_after" in v["not_provided"] for v in verdicts if v["case"] == "seed-2-2-2")


def test_directional_and_sampled_references(tmp_path, capsys):
    document = result_document()
    for method in ("directional", "sampled", "richardson"):
        code, [verdict], _ = verify(capsys, tmp_path, document, extra=("--fd-method", method))
        rows = [c for c in verdict["checks"] if c["reference"] == "finite-difference"]
        assert code == 0 and rows and all(c["method"] == method for c in rows), method
    document["grads"]["layers.1.weight"][0][1] *= 1.001
    code, [verdict], _ = verify(capsys, tmp_path, document, extra=("--fd-method", "directional"))
    assert code == 1
    assert [c["tensor"] for c in verdict["checks"] if not c["passed"] and c["reference"] == "finite-difference"] == [
        "<grads, u> (4 random directions)"
    ]


def test_options_and_results_in_any_order(tmp_path, capsys):
    """`--cases DIR` takes one path (repeat it for more): the results after it stay results."""
    cases = tmp_path / "cases"
    cases.mkdir()
    (cases / SEED.name).write_text(SEED.read_text())
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    first.write_text(json.dumps(result_document()))
    second.write_text(json.dumps(result_document(SUITE_DIR / "mlp" / "mlp-depth1-identity-b1.json")))
    code = main(
        [
            "verify",
            "--cases",
            str(cases),
            str(first),
            "--no-report",
            "--json",
            "--cases",
            str(SUITE_DIR / "mlp"),
            str(second),
            "--oracle",
            "torch",
        ]
    )
    verdicts = json.loads(capsys.readouterr().out)
    assert code == 0 and [v["case"] for v in verdicts] == ["seed-2-2-2", "mlp-depth1-identity-b1"]
