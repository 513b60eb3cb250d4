"""Teeth: every finite-difference method reports a gradient with one wrong entry; the
command line's --fd-method and `refbp bench fd` work end to end (in-process)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from refbp.bench import fd as fd_bench
from refbp.bench.fd import make_case, wrong_gradient
from refbp.cases import SUITE_DIR, format_entry
from refbp.check.check_case import finite_difference_checks
from refbp.cli import main
from refbp.diagnosis import diagnose_checks
from refbp.nn import compute_trace
from refbp.perturbed import loss_forms
from refbp.trace import Trace

SEED = SUITE_DIR / "seed" / "seed-2-2-2.json"
RELU_CASE = SUITE_DIR / "mlp" / "mlp-relu-d3-mse-b16-adam.json"


def fd_rows(case, grads, method):
    return finite_difference_checks(case, Trace(outputs=None, loss=0.0, grads=grads), loss_forms(case), method)


def planted(grads, name, index, relative=1e-3):
    wrong = {n: g.copy() for n, g in grads.items()}
    wrong[name][index] *= 1.0 + relative
    return wrong


CASE = make_case((4, 6, 3))  # sigmoid, half_sse, batch 8, 51 parameters


@pytest.mark.parametrize("method", ["central", "richardson", "complex", "sampled", "directional"])
def test_every_method_passes_the_correct_gradient(method):
    rows = fd_rows(CASE, compute_trace(CASE).grads, method)
    assert rows and all(r.passed for r in rows), [(r.tensor, r.note) for r in rows if not r.passed]
    assert all(r.method == method and r.step > 0 and r.error_estimate > 0 for r in rows)


@pytest.mark.parametrize("method", ["central", "richardson", "complex"])
def test_entrywise_methods_report_any_entry_off_by_1e_3(method):
    grads = compute_trace(CASE).grads
    # an ordinary entry (the median magnitude of its tensor), not just the largest
    g = grads["layers.0.weight"]
    index = np.unravel_index(int(np.argsort(np.abs(g), axis=None)[g.size // 2]), g.shape)
    rows = fd_rows(CASE, planted(grads, "layers.0.weight", index), method)
    failed = [r for r in rows if not r.passed]
    assert [r.tensor for r in failed] == ["layers.0.weight"]
    assert failed[0].worst_index == [int(i) for i in index]
    # and the diagnosis (refbp.diagnosis) names it: one entry wrong, the rest right
    rows = diagnose_checks(CASE, Trace(outputs=None, loss=0.0, grads=planted(grads, "layers.0.weight", index)), rows)
    failed = [r for r in rows if not r.passed]
    assert failed[0].diagnosis == "entries:1" and format_entry("layers.0.weight", index) in failed[0].diagnosis_note


def test_sampled_always_judges_every_bias_entry():
    grads = compute_trace(CASE).grads
    for i in range(grads["layers.1.bias"].size):  # deterministic: biases are never sampled out
        rows = fd_rows(CASE, planted(grads, "layers.1.bias", (i,)), "sampled")
        assert [r.tensor for r in rows if not r.passed] == ["layers.1.bias"]


def test_sampled_weight_entries_are_caught_when_sampled():
    # 8 of the 24 entries of layers.0.weight are sampled: a wrong entry is caught with
    # probability 1/3 over seeds; here the entry is one the checker's seed samples.
    from refbp.oracle.fd import finite_difference

    result = finite_difference("sampled", loss_forms(CASE), CASE.params)
    sampled = np.argwhere(~np.isnan(result.grads["layers.0.weight"]))
    assert len(sampled) == 8
    rows = fd_rows(CASE, planted(compute_trace(CASE).grads, "layers.0.weight", tuple(sampled[3])), "sampled")
    assert [r.tensor for r in rows if not r.passed] == ["layers.0.weight"]


def test_directional_reports_the_largest_entry_off_by_1e_3():
    # The planted error shifts <g, u> by 1e-3 |g_j| u_j, with u_j ~ N(0, 1/P) (P = 51). The
    # row's threshold is atol/sqrt(P) + rtol |<g, u>| + 4 x the FD error estimate, about
    # 3e-9 here, against 1e-3 |g_j| / sqrt(P) ~ 1e-5 typical: a direction misses only when
    # |u_j| sqrt(P) < 3e-4 (probability 2.4e-4), all 4 directions ~ 3e-15. The seed is fixed,
    # so the test is deterministic.
    wrong, entry = wrong_gradient(compute_trace(CASE).grads)
    rows = fd_rows(CASE, wrong, "directional")
    assert len(rows) == 1 and not rows[0].passed, entry


# ---- the command line -------------------------------------------------------------------------


def run_json(capsys, *argv):
    code = main(["run", "--no-report", "--no-progress", "--json", *argv])
    return code, json.loads(capsys.readouterr().out)


def fd_methods(verdicts):
    return {c["method"] for v in verdicts for c in v["checks"] if c["reference"] == "finite-difference"}


@pytest.mark.parametrize("method", ["central", "richardson", "complex", "directional", "sampled"])
def test_run_fd_method(capsys, method):
    code, verdicts = run_json(capsys, "--oracle", "fd", "--fd-method", method, str(SEED))
    assert code == 0
    assert fd_methods(verdicts) == {method}
    rows = [c for c in verdicts[0]["checks"] if c["reference"] == "finite-difference"]
    assert all(r["step"] > 0 and r["error_estimate"] > 0 for r in rows)


def test_run_default_method_is_per_case(capsys):
    code, verdicts = run_json(capsys, "--oracle", "fd", str(SEED), str(RELU_CASE))
    assert code == 0
    by_case = {v["case"]: {c["method"] for c in v["checks"]} for v in verdicts}
    assert by_case == {"seed-2-2-2": {"complex"}, "mlp-relu-d3-mse-b16-adam": {"central"}}


def test_run_judges_a_relu_case_by_central_differences_where_complex_is_asked(capsys):
    """The complex step is impossible on a relu network: that case is judged by central
    differences, and its rows say so (the run's other cases keep the complex step)."""
    code, verdicts = run_json(capsys, "--fd-method", "complex", str(RELU_CASE), str(SEED))
    assert code == 0
    by_case = {v["case"]: v for v in verdicts}
    relu_rows = [c for c in by_case["mlp-relu-d3-mse-b16-adam"]["checks"] if c["reference"] == "finite-difference"]
    assert relu_rows and all(
        c["method"] == "central" and "complex step refused" in c["note"] and "relu" in c["note"] for c in relu_rows
    )
    assert fd_methods([by_case["seed-2-2-2"]]) == {"complex"}


def test_run_rejects_an_unknown_fd_method(capsys):
    assert main(["run", "--fd-method", "forward", str(SEED)]) == 2


def test_bench_fd_quick_json(capsys, tmp_path, monkeypatch):
    # A smoke run of the command: its second network smaller than --quick's 10-32-32-4, whose
    # gradcheck baseline alone took most of three minutes of the suite on a loaded 2-core machine.
    monkeypatch.setattr(fd_bench, "QUICK_NETWORKS", ((2, 2, 2), (6, 12, 12, 3)))
    monkeypatch.setattr(fd_bench, "QUICK_ACTIVATION_NETWORK", (6, 12, 12, 3))
    code = main(["bench", "fd", "--quick", "--json", "--repeats", "1", "--report-dir", str(tmp_path)])
    assert code == 0
    rows = json.loads(capsys.readouterr().out)
    mlp_rows = [r for r in rows if r["kind"] == "mlp"]
    assert [r["network"] for r in rows[:4]] == ["2-2-2"] * 4 and mlp_rows[-1]["network"] == "6-12-12-3"
    assert [(r["network"], r["activation"], r["steps"]) for r in rows if r["kind"] == "rnn"] == [
        ("3-8-2", "tanh", 5),
        ("3-8-2", "relu", 5),
    ]
    for row in rows:
        assert {"network", "batch", "params", "method", "baseline", "refbp_s", "baseline_s", "speedup", "agree"} <= set(
            row
        )
        expected = (
            "torch.autograd.gradcheck(fast_mode=True)" if row["method"] == "directional" else "torch.autograd.gradcheck"
        )
        assert row["baseline"] == expected and row["batch"] == (8 if row["kind"] == "mlp" else 4)
        assert row["speedup"] == pytest.approx(row["baseline_s"] / row["refbp_s"])
        assert row["agree"] is True, row
        assert row["baseline_note"] == ""
    assert {row["activation"] for row in mlp_rows} == {"sigmoid", "relu", "mixed"}
    assert rows[4]["params"] == 6 * 12 + 12 + 12 * 12 + 12 + 12 * 3 + 3
    (report,) = tmp_path.glob("bench-fd-*")
    assert (report / "results.csv").exists() and (report / "summary.md").exists()
    assert "goal: directional at least as fast" in (report / "summary.md").read_text()
    assert "goal: full check (central) of RNN 3-8-2 relu" in (report / "summary.md").read_text()


def test_bench_fd_goal_lines_say_met_only_when_met():
    import pandas as pd

    from refbp.bench.fd import goal_lines

    def frame(speedup, agree=True, directional=2.0, error=1e-12):
        return pd.DataFrame(
            [
                {
                    "network": "32-64-64-10",
                    "method": "central",
                    "speedup": speedup,
                    "agree": agree,
                    "err_vs_torch": 1e-9,
                },
                {
                    "network": "32-64-64-10",
                    "method": "richardson",
                    "speedup": 20.0,
                    "agree": True,
                    "err_vs_torch": error,
                },
                {
                    "network": "32-64-64-10",
                    "method": "directional",
                    "speedup": directional,
                    "agree": True,
                    "err_vs_torch": 1e-9,
                },
            ]
        )

    assert all(line.endswith("(met)") for line in goal_lines(frame(120.0)))
    for bad in (frame(58.0), frame(120.0, agree=False), frame(120.0, directional=0.9), frame(120.0, error=3e-10)):
        assert sum(line.endswith("(not met)") for line in goal_lines(bad)) == 1


def test_bench_fd_goal_lines_for_every_activation_the_big_network_and_rnn_rows():
    import pandas as pd

    from refbp.bench.fd import goal_lines

    def frame(relu=150.0, big=120.0, rnn=25.0, agree=True):
        rows = [
            {
                "network": "32-64-64-10",
                "kind": "mlp",
                "activation": a,
                "method": "central",
                "speedup": x,
                "agree": agree,
                "err_vs_torch": 1e-9,
            }
            for a, x in (("sigmoid", 140.0), ("relu", relu))
        ]
        rows.append(
            {
                "network": "784-256-256-10",
                "kind": "mlp",
                "activation": "relu",
                "method": "central",
                "speedup": big,
                "agree": True,
                "err_vs_torch": 1e-9,
            }
        )
        rows.append(
            {
                "network": "8-32-4",
                "kind": "rnn",
                "activation": "tanh",
                "steps": 20,
                "method": "central",
                "speedup": rnn,
                "agree": True,
                "err_vs_torch": 1e-9,
            }
        )
        return pd.DataFrame(rows)

    lines = goal_lines(frame())
    assert all(line.endswith("(met)") for line in lines)
    assert any("every activation" in line for line in lines) and any("784-256-256-10" in line for line in lines)
    assert any("of RNN 8-32-4 tanh" in line for line in lines)
    assert (
        sum(line.endswith("(not met)") for line in goal_lines(frame(relu=90.0))) == 2
    )  # its row and "every activation"
    assert sum(line.endswith("(not met)") for line in goal_lines(frame(big=90.0))) == 1
    assert sum(line.endswith("(not met)") for line in goal_lines(frame(rnn=15.0))) == 1


def test_complex_step_falls_back_when_its_forward_is_not_the_checked_one(monkeypatch):
    """A bug in refbp's real sigmoid forward that the complex-capable copy does not share:
    the complex step must not judge against the copy; central differences of the real forward do."""
    from refbp.cases import SUITE_DIR, load_case
    from refbp.check import check_case
    from refbp.nn import activations

    original = activations.Sigmoid.forward
    # a forward 0.1% off: the real path only (refbp.perturbed.analytic has its own sigmoid)
    monkeypatch.setattr(activations.Sigmoid, "forward", lambda self, xp, net: 1.001 * original(self, xp, net))
    verdict = check_case(load_case(SUITE_DIR / "seed" / "seed-2-2-2.json"), oracles=("fd",))
    rows = [c for c in verdict.checks if c.reference == "finite-difference"]
    assert rows and all(c.method == "central" for c in rows)  # asked for complex (the default), got central
    assert all("central differences used instead" in c.note for c in rows)
    assert not verdict.passed
