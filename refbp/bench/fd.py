"""`refbp bench fd`: refbp's finite-difference checks against torch.autograd.gradcheck.

Per MLP (batch 8, float64), in the same process, on the same function and data:
  central, richardson, complex   refbp's full check of every parameter (refbp's gradient,
                                 the finite differences, the comparison) vs gradcheck
  directional                    refbp's directional check (4 directions) vs gradcheck(fast_mode=True)
The sigmoid networks (half_sse) get every method; 32-64-64-10 also gets a central row per
hidden activation (`activation`: tanh, relu, leaky_relu, elu, softplus with a sigmoid output
and half_sse; `mixed`: relu and tanh layers, an identity output and cross_entropy on class
targets, the softmax inside the loss). `kind` is the network's kind (mlp). A 784-256-256-10
relu network gets a central row too, its gradcheck timed on a sample of its columns and
scaled to every parameter (`baseline_note` says how; empty where gradcheck ran whole).
Times are medians of several rounds in which refbp's checks and gradcheck take turns
(refbp.bench.measure.interleaved_medians). gradcheck differentiates the torch reference's loss
(refbp.oracle.torch_loss.parameter_loss); `err_vs_torch` compares with the torch reference's
gradient. `agree` is true when both reach the same verdict on the correct gradient (pass) AND both
reject a gradient whose largest-magnitude entry is off by 1e-3 relative (for gradcheck: a custom
autograd Function whose backward returns that gradient). gradcheck is given the same atol/rtol as
refbp's row (refbp.check.tolerance); its step is its own default (eps=1e-6). `err_vs_torch` is the
largest error of refbp's finite differences against torch autograd's gradient, relative to the
largest entry of each tensor (directional: relative to each projection). The RNN rows (`kind` rnn,
`activation` the nonlinearity, `steps` T) are refbp.bench.fd_rnn's.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

import numpy as np

from refbp.cases import Case, MLPNetwork
from refbp.cases.generate import random_problem
from refbp.check.fd_rows import finite_difference_checks
from refbp.nn import compute_trace
from refbp.oracle.fd import finite_difference
from refbp.perturbed import loss_forms
from refbp.trace import Trace

from . import fd_rnn
from .common import BenchUsageError, timing_environment
from .gradcheck import gradcheck_function, torch_gradient
from .measure import Effort, Timed, interleaved_medians

if TYPE_CHECKING:
    import pandas as pd

NETWORKS = ((2, 2, 2), (10, 32, 32, 4), (32, 64, 64, 10), (64, 128, 128, 10))
QUICK_NETWORKS = ((2, 2, 2), (10, 32, 32, 4))
# Hidden activations timed on one network (central only), beyond the sigmoid networks above.
ACTIVATIONS = ("tanh", "relu", "leaky_relu", "elu", "softplus", "mixed")
ACTIVATION_NETWORK = (32, 64, 64, 10)
QUICK_ACTIVATIONS = ("relu", "mixed")
QUICK_ACTIVATION_NETWORK = (10, 32, 32, 4)
BATCH = 8
METHODS = ("central", "richardson", "complex", "directional")
BASELINES = {False: "torch.autograd.gradcheck", True: "torch.autograd.gradcheck(fast_mode=True)"}
WRONG_RELATIVE = 1e-3
TITLE = "refbp bench fd: refbp's finite-difference checks against torch.autograd.gradcheck (seconds are medians)"


@dataclass(frozen=True)
class Options:
    quick: bool = False  # the two small networks and short medians (a smoke run)
    repeats: int | None = None  # rounds per median; None: 7 (3 with quick)

    @property
    def rounds(self) -> int:
        return self.repeats or (3 if self.quick else 7)


def run(options: Options) -> pd.DataFrame:
    """Every row, network by network."""
    # pandas takes ~0.3 s to import: only when a bench runs, not when the CLI starts.
    import pandas as pd

    if options.rounds < 1:
        raise BenchUsageError("--repeats must be at least 1")
    rows = []
    for sizes in QUICK_NETWORKS if options.quick else NETWORKS:
        rows += bench_network(sizes, options.rounds, quick=options.quick)
    sizes = QUICK_ACTIVATION_NETWORK if options.quick else ACTIVATION_NETWORK
    for activation in QUICK_ACTIVATIONS if options.quick else ACTIVATIONS:
        rows += bench_network(
            sizes, options.rounds, quick=options.quick, activation=activation, methods=(("central",), ())
        )
    if not options.quick:
        rows += bench_big_network(options.rounds)
    for nonlinearity in fd_rnn.NONLINEARITIES:
        case = fd_rnn.make_case(nonlinearity, quick=options.quick)
        rows += bench_network(
            fd_rnn.sizes_of(case),
            options.rounds,
            quick=options.quick,
            activation=nonlinearity,
            methods=(("central",), ()),
            case=case,
        )
    return pd.DataFrame(rows)


def environment(options: Options) -> dict:
    return timing_environment(
        {
            "problem": f"float64, batch {BATCH}, sigmoid MLPs with half_sse; per hidden "
            "activation on one network; mixed: relu-tanh, identity output, cross_entropy",
            "rnn": fd_rnn.PROBLEM,
            "rounds": f"medians of up to {options.rounds} interleaved rounds",
        }
    )


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


GOAL_NETWORK = "32-64-64-10"
GOAL_SPEEDUP = 100.0
GOAL_ERROR = 1e-10


def goal_lines(frame) -> list[str]:
    """The issue's goals as measured in this run (a goal whose rows were not timed is left out)."""
    lines = []
    central = frame[(frame.network == GOAL_NETWORK) & (frame.method == "central")]
    for row in central.itertuples():
        met = row.speedup >= GOAL_SPEEDUP and row.agree
        activation = getattr(row, "activation", "sigmoid")
        lines.append(
            f"goal: full check (central) of {GOAL_NETWORK} {activation} {row.speedup:.1f}x faster than gradcheck, "
            f"agree={row.agree}; goal >= {GOAL_SPEEDUP:.0f}x with the same verdicts ({'met' if met else 'not met'})"
        )
    if len(central) > 1:
        slowest = central.loc[central.speedup.idxmin()]
        met = slowest.speedup >= GOAL_SPEEDUP and bool(central.agree.all())
        lines.append(
            f"goal: every activation of {GOAL_NETWORK} >= {GOAL_SPEEDUP:.0f}x with the same verdicts: slowest "
            f"{slowest.get('activation', 'sigmoid')} {slowest.speedup:.1f}x ({'met' if met else 'not met'})"
        )
    big = "-".join(map(str, BIG_NETWORK))
    for row in frame[(frame.network == big) & (frame.method == "central")].itertuples():
        met = row.speedup >= GOAL_SPEEDUP and row.agree
        lines.append(
            f"goal: full check (central) of {big} {row.activation} {row.speedup:.1f}x faster than gradcheck "
            f"(extrapolated from a sample of its columns), agree={row.agree}; goal >= {GOAL_SPEEDUP:.0f}x "
            f"({'met' if met else 'not met'})"
        )
    directional = frame[frame.method == "directional"]
    if len(directional):
        slowest = directional.speedup.min()
        lines.append(
            f"goal: directional at least as fast as gradcheck(fast_mode=True): slowest {slowest:.2f}x "
            f"({'met' if slowest >= 1.0 else 'not met'})"
        )
    accurate = frame[frame.method.isin(["richardson", "complex"])]
    if len(accurate):
        worst = accurate.err_vs_torch.max()
        lines.append(
            f"goal: richardson and complex within {GOAL_ERROR:g} of torch's gradient: worst {worst:.2g} "
            f"({'met' if worst <= GOAL_ERROR else 'not met'})"
        )
    return lines + fd_rnn.goal_lines(frame)
