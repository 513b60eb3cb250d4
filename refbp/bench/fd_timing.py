"""Timing one network's finite-difference checks against torch.autograd.gradcheck: the rows of `refbp bench fd`.

`make_case` builds the benchmark's MLPs; `bench_network` times refbp's checks (and a gradient
off by 1e-3 relative in one entry) against gradcheck in interleaved rounds, one row per method;
`bench_big_network` does so for 784-256-256-10, gradcheck timed on a sample of its columns and
scaled. What the columns mean is refbp.bench.fd's docstring.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from refbp.cases import Case, MLPNetwork
from refbp.cases.generate import random_problem
from refbp.check.fd_rows import finite_difference_checks
from refbp.nn import compute_trace
from refbp.oracle.fd import finite_difference
from refbp.perturbed import loss_forms
from refbp.trace import Trace

from . import fd_rnn
from .gradcheck import gradcheck_function, torch_gradient
from .measure import Effort, Timed, interleaved_medians

BATCH = 8
BASELINES = {False: "torch.autograd.gradcheck", True: "torch.autograd.gradcheck(fast_mode=True)"}
WRONG_RELATIVE = 1e-3


def make_case(sizes, batch: int = BATCH, seed: int = 0, activation: str = "sigmoid") -> Case:
    """An MLP whose hidden layers use `activation`, with a sigmoid output and half_sse (`mixed`:
    relu and tanh in turn, an identity output and cross_entropy on class targets): Xavier-uniform
    weights, normal inputs, uniform targets or classes (refbp.cases.generate)."""
    hidden = len(sizes) - 2
    target_shape: tuple[int, ...]
    if activation == "mixed":
        activations = tuple(("relu", "tanh")[i % 2] for i in range(hidden)) + ("identity",)
        loss, targets, target_shape = "cross_entropy", "classes", (batch,)
    else:
        activations, loss = (activation,) * hidden + ("sigmoid",), "half_sse"
        targets, target_shape = "uniform", (batch, sizes[-1])
    network = MLPNetwork(sizes=tuple(sizes), activations=activations, bias=True)
    params, inputs, drawn = random_problem(
        network.param_shapes(),
        (batch, sizes[0]),
        target_shape,
        targets=targets,
        classes=sizes[-1] if targets == "classes" else None,
        seed=seed,
    )
    suffix = "" if activation == "sigmoid" else "-" + activation
    return Case(
        id="bench-" + "-".join(map(str, sizes)) + suffix,
        network=network,
        loss=loss,
        params=params,
        inputs=inputs,
        targets=drawn,
    )


def wrong_gradient(grads: dict) -> tuple[dict, str]:
    """The gradient with its largest-magnitude entry off by 1e-3 relative, and which entry."""
    name = max(grads, key=lambda n: float(np.max(np.abs(grads[n]))))
    index = np.unravel_index(int(np.argmax(np.abs(grads[name]))), grads[name].shape)
    wrong = {n: np.array(g, dtype=np.float64, copy=True) for n, g in grads.items()}
    wrong[name][index] *= 1.0 + WRONG_RELATIVE
    return wrong, name + "".join(f"[{int(i)}]" for i in index)


FULL_AND_FAST = (("central", "richardson", "complex"), ("directional",))


def bench_network(
    sizes, repeats: int, quick: bool = False, activation: str = "sigmoid", methods=FULL_AND_FAST, case=None
) -> list[dict]:
    """The rows of one network: `methods` (full checks against gradcheck, fast ones against
    gradcheck(fast_mode=True)). refbp's checks and their gradcheck baseline are timed in
    interleaved rounds (refbp.bench.measure): a burst of load from elsewhere on the machine
    then slows both sides alike, and the ratio stays fair."""
    case = make_case(sizes, activation=activation) if case is None else case  # given: an RNN's (fd_rnn)
    torch_grads = torch_gradient(case)
    wrong, wrong_entry = wrong_gradient(compute_trace(case).grads)
    effort = Effort(samples=repeats, min_sample_s=0.002 if quick else 0.02, max_measure_s=1.0 if quick else 12.0)
    rows = []
    for fast, these in zip((False, True), methods):
        if not these:
            continue
        checks = {method: refbp_check(case, method) for method in these}
        tolerance = checks[these[0]][0]
        baseline = gradcheck_function(case, fast, tolerance.atol, tolerance.rtol)
        timed = {method: Timed(partial(refbp_check, case, method), library="numpy") for method in these}
        timed["baseline"] = Timed(baseline(), library="torch")
        seconds = interleaved_medians(timed, effort)
        baseline_verdicts = baseline()(), not baseline(wrong)()
        for method in these:
            rows.append(
                row(
                    case,
                    activation,
                    method,
                    BASELINES[fast],
                    seconds[method],
                    seconds["baseline"],
                    checks[method],
                    refbp_check(case, method, wrong),
                    baseline_verdicts,
                    wrong_entry,
                    error_vs_torch(case, method, torch_grads),
                )
            )
    return rows


def refbp_check(case, method: str, grads=None):
    """refbp's full check: its gradient (or `grads`), the finite differences, the comparison."""
    trace = compute_trace(case) if grads is None else Trace(outputs=None, loss=0.0, grads=grads)
    return finite_difference_checks(case, trace, loss_forms(case), method)


def sizes_of(case) -> tuple[int, ...]:
    """The row's `network`: an MLP's layer sizes, an RNN's input, hidden and output sizes."""
    return case.network.sizes if case.network.kind == "mlp" else fd_rnn.sizes_of(case)


def row(
    case,
    activation: str,
    method: str,
    baseline: str,
    refbp_s: float,
    baseline_s: float,
    checks,
    wrong_checks,
    baseline_verdicts,
    wrong_entry: str,
    err_vs_torch: float,
    baseline_note: str = "",
) -> dict:
    """One row: refbp's checks of the correct and of the wrong gradient against the baseline's
    (passes the correct one, rejects the wrong one)."""
    refbp_pass, refbp_rejects = all(c.passed for c in checks), not all(c.passed for c in wrong_checks)
    baseline_pass, baseline_rejects = baseline_verdicts
    return {
        "network": "-".join(map(str, sizes_of(case))),
        "kind": case.network.kind,
        "activation": activation,
        "batch": case.batch,
        "steps": case.steps,
        "params": sum(p.size for p in case.params.values()),
        "method": method,
        "baseline": baseline,
        "refbp_s": refbp_s,
        "baseline_s": baseline_s,
        "speedup": baseline_s / refbp_s,
        "agree": bool(refbp_pass and baseline_pass and refbp_rejects and baseline_rejects),
        "refbp_pass": refbp_pass,
        "baseline_pass": baseline_pass,
        "refbp_rejects_wrong": refbp_rejects,
        "baseline_rejects_wrong": baseline_rejects,
        "wrong_entry": wrong_entry,
        "atol": checks[0].atol,
        "rtol": checks[0].rtol,
        "err_vs_torch": err_vs_torch,
        "baseline_note": baseline_note,
    }


BIG_NETWORK = (784, 256, 256, 10)
BIG_ACTIVATION = "relu"
# gradcheck's full run takes minutes on the big network: it is timed on the columns of these
# tensors only and scaled to every parameter. Each column of its numerical Jacobian costs the
# same two forwards of the whole network, whichever tensor the column belongs to.
BIG_SAMPLED_TENSORS = ("layers.1.bias", "layers.2.bias")


def bench_big_network(repeats: int, sizes=BIG_NETWORK, activation: str = BIG_ACTIVATION) -> list[dict]:
    """The central row of the big network: refbp's full check against gradcheck timed on a
    sample of its columns and extrapolated (said in `baseline_note`); the wrong entry is planted
    in the sampled tensors, where gradcheck looks."""
    case = make_case(sizes, activation=activation)
    grads = compute_trace(case).grads
    planted, wrong_entry = wrong_gradient({n: grads[n] for n in BIG_SAMPLED_TENSORS})
    wrong = {**grads, **planted}
    checks = refbp_check(case, "central")
    baseline = gradcheck_function(case, False, checks[0].atol, checks[0].rtol, names=BIG_SAMPLED_TENSORS)
    seconds = interleaved_medians(
        {
            "central": Timed(lambda: refbp_check(case, "central"), library="numpy"),
            "baseline": Timed(baseline(), library="torch"),
        },
        Effort(samples=min(repeats, 3), min_sample_s=0.0, max_measure_s=30.0),
    )
    count = sum(p.size for p in case.params.values())
    sampled = sum(case.params[n].size for n in BIG_SAMPLED_TENSORS)
    note = (
        f"gradcheck timed on the columns of {', '.join(BIG_SAMPLED_TENSORS)} ({sampled:,} of {count:,} "
        f"entries; the others held) and scaled by {count:,} / {sampled:,}: every column costs the same two "
        f"forwards of the whole network; its verdicts are on those columns"
    )
    return [
        row(
            case,
            activation,
            "central",
            BASELINES[False],
            seconds["central"],
            seconds["baseline"] * count / sampled,
            checks,
            refbp_check(case, "central", wrong),
            (baseline()(), not baseline(planted)()),
            wrong_entry,
            error_vs_torch(case, "central", torch_gradient(case)),
            baseline_note=note,
        )
    ]


def error_vs_torch(case, method: str, torch_grads: dict) -> float:
    result = finite_difference(method, loss_forms(case), case.params)
    if method == "directional":
        reference = np.array(
            [sum(float(np.sum(torch_grads[n] * u[n])) for n in torch_grads) for u in result.directions]
        )
        return float(np.max(np.abs(result.directional - reference) / np.abs(reference)))
    return float(max(np.max(np.abs(result.grads[n] - g)) / np.max(np.abs(g)) for n, g in torch_grads.items()))
