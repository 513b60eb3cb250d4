"""`refbp bench fd`: refbp's finite-difference checks against torch.autograd.gradcheck.

Per MLP (batch 8, float64), in the same process, on the same function and data:
  central, richardson, complex   refbp's full check of every parameter (refbp's gradient,
                                 the finite differences, the comparison) vs gradcheck
  directional                    refbp's directional check (4 directions) vs gradcheck(fast_mode=True)
The sigmoid networks (half_sse) get every method; 32-64-64-10 also gets a central row per
hidden activation (`activation`: tanh, relu, leaky_relu, elu, softplus with a sigmoid output
and half_sse; `mixed`: relu and tanh layers, an identity output and cross_entropy on class
targets, the softmax inside the loss). `kind` is the network's kind (mlp).
Times are medians of several rounds in which refbp's checks and gradcheck take turns
(refbp.bench.measure.interleaved_medians). gradcheck differentiates the torch reference's loss
(oracle.torch_loss.parameter_loss); `err_vs_torch` compares with the torch reference's gradient. `agree` is true when both reach the same verdict on the
correct gradient (pass) AND both reject a gradient whose largest-magnitude entry is off by
1e-3 relative (for gradcheck: a custom autograd Function whose backward returns that
gradient). gradcheck is given the same atol/rtol as refbp's row (refbp.check.tolerance);
its step is its own default (eps=1e-6). `err_vs_torch` is the largest error of refbp's
finite differences against torch autograd's gradient, relative to the largest entry of
each tensor (directional: relative to each projection). The RNN rows (`kind` rnn,
`activation` the nonlinearity, `steps` T) are refbp.bench.fd_rnn's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from cases import Case, MLPNetwork
from cases.generate import random_problem
from oracle.fd import finite_difference
from refbp.check.check_case import finite_difference_checks
from refbp.nn import compute_trace
from refbp.perturbed import loss_forms
from refbp.trace import Trace

from . import fd_rnn
from .common import BenchUsageError, timing_environment
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
        rows += bench_network(sizes, options.rounds, quick=options.quick, activation=activation,
                              methods=(("central",), ()))
    for nonlinearity in fd_rnn.NONLINEARITIES:
        case = fd_rnn.make_case(nonlinearity, quick=options.quick)
        rows += bench_network(fd_rnn.sizes_of(case), options.rounds, quick=options.quick, activation=nonlinearity,
                              methods=(("central",), ()), case=case)
    return pd.DataFrame(rows)


def environment(options: Options) -> dict:
    return timing_environment({"problem": f"float64, batch {BATCH}, sigmoid MLPs with half_sse; per hidden "
                                          "activation on one network; mixed: relu-tanh, identity output, cross_entropy",
                               "rnn": fd_rnn.PROBLEM,
                               "rounds": f"medians of up to {options.rounds} interleaved rounds"})


def make_case(sizes, batch: int = BATCH, seed: int = 0, activation: str = "sigmoid") -> Case:
    """An MLP whose hidden layers use `activation`, with a sigmoid output and half_sse (`mixed`:
    relu and tanh in turn, an identity output and cross_entropy on class targets): Xavier-uniform
    weights, normal inputs, uniform targets or classes (cases.generate)."""
    hidden = len(sizes) - 2
    if activation == "mixed":
        activations = tuple(("relu", "tanh")[i % 2] for i in range(hidden)) + ("identity",)
        loss, targets, target_shape = "cross_entropy", "classes", (batch,)
    else:
        activations, loss = (activation,) * hidden + ("sigmoid",), "half_sse"
        targets, target_shape = "uniform", (batch, sizes[-1])
    network = MLPNetwork(sizes=tuple(sizes), activations=activations, bias=True)
    params, inputs, drawn = random_problem(network.param_shapes(), (batch, sizes[0]), target_shape, targets=targets,
                                           classes=sizes[-1] if targets == "classes" else None, seed=seed)
    suffix = "" if activation == "sigmoid" else "-" + activation
    return Case(id="bench-" + "-".join(map(str, sizes)) + suffix, network=network, loss=loss, params=params,
                inputs=inputs, targets=drawn)


def wrong_gradient(grads: dict) -> tuple[dict, str]:
    """The gradient with its largest-magnitude entry off by 1e-3 relative, and which entry."""
    name = max(grads, key=lambda n: float(np.max(np.abs(grads[n]))))
    index = np.unravel_index(int(np.argmax(np.abs(grads[name]))), grads[name].shape)
    wrong = {n: np.array(g, dtype=np.float64, copy=True) for n, g in grads.items()}
    wrong[name][index] *= 1.0 + WRONG_RELATIVE
    return wrong, name + "".join(f"[{int(i)}]" for i in index)


FULL_AND_FAST = (("central", "richardson", "complex"), ("directional",))


def bench_network(sizes, repeats: int, quick: bool = False, activation: str = "sigmoid",
                  methods=FULL_AND_FAST, case=None) -> list[dict]:
    """The rows of one network: `methods` (full checks against gradcheck, fast ones against
    gradcheck(fast_mode=True)). refbp's checks and their gradcheck baseline are timed in
    interleaved rounds (refbp.bench.measure): a burst of load from elsewhere on the machine
    then slows both sides alike, and the ratio stays fair."""
    case = make_case(sizes, activation=activation) if case is None else case  # given: an RNN's (fd_rnn)
    count = sum(p.size for p in case.params.values())
    torch_grads = torch_gradient(case)
    wrong, wrong_entry = wrong_gradient(compute_trace(case).grads)
    effort = Effort(samples=repeats, min_sample_s=0.002 if quick else 0.02, max_measure_s=1.0 if quick else 12.0)

    def refbp_check(method, grads=None):
        trace = compute_trace(case) if grads is None else Trace(outputs=None, loss=0.0, grads=grads)
        return finite_difference_checks(case, trace, loss_forms(case), method)

    rows = []
    for fast, methods in zip((False, True), methods):
        if not methods:
            continue
        checks = {method: refbp_check(method) for method in methods}
        tolerance = checks[methods[0]][0]
        baseline = gradcheck_function(case, fast, tolerance.atol, tolerance.rtol)
        timed = {method: Timed(lambda m=method: refbp_check(m), library="numpy") for method in methods}
        timed["baseline"] = Timed(baseline(), library="torch")
        seconds = interleaved_medians(timed, effort)
        baseline_pass, baseline_rejects = baseline()(), not baseline(wrong)()
        for method in methods:
            refbp_pass = all(c.passed for c in checks[method])
            refbp_rejects = not all(c.passed for c in refbp_check(method, wrong))
            rows.append({
                "network": "-".join(map(str, sizes)), "kind": case.network.kind, "activation": activation,
                "batch": case.batch, "steps": case.steps, "params": count, "method": method,
                "baseline": BASELINES[fast], "refbp_s": seconds[method], "baseline_s": seconds["baseline"],
                "speedup": seconds["baseline"] / seconds[method],
                "agree": bool(refbp_pass and baseline_pass and refbp_rejects and baseline_rejects),
                "refbp_pass": refbp_pass, "baseline_pass": baseline_pass,
                "refbp_rejects_wrong": refbp_rejects, "baseline_rejects_wrong": baseline_rejects,
                "wrong_entry": wrong_entry, "atol": checks[method][0].atol, "rtol": checks[method][0].rtol,
                "err_vs_torch": error_vs_torch(case, method, torch_grads),
            })
    return rows


def error_vs_torch(case, method: str, torch_grads: dict) -> float:
    result = finite_difference(method, loss_forms(case), case.params)
    if method == "directional":
        reference = np.array([sum(float(np.sum(torch_grads[n] * u[n])) for n in torch_grads)
                              for u in result.directions])
        return float(np.max(np.abs(result.directional - reference) / np.abs(reference)))
    return float(max(np.max(np.abs(result.grads[n] - g)) / np.max(np.abs(g)) for n, g in torch_grads.items()))


# ---- torch: the reference's gradient, gradcheck on the reference's loss -------------------------------

def torch_gradient(case) -> dict:
    # torch takes seconds to import: only when the bench runs, not when the CLI starts.
    from oracle import torch_reference

    return torch_reference.trace(case).grads


def _with_gradient(loss, names, grads: dict):
    """The loss as a custom autograd Function whose backward returns `grads` (a planted wrong gradient)."""
    import torch

    fixed = [torch.as_tensor(grads[n], dtype=torch.float64) for n in names]

    class Planted(torch.autograd.Function):
        @staticmethod
        def forward(ctx, *params):
            return loss(*params)

        @staticmethod
        def backward(ctx, grad_output):
            return tuple(grad_output * g for g in fixed)

    return Planted.apply


def gradcheck_function(case, fast: bool, atol: float, rtol: float):
    """gradcheck(fast_mode=fast) on the case's loss, as `check(grads=None) -> () -> passed`:
    with `grads`, on the loss whose backward returns them (a planted wrong gradient)."""
    # torch takes seconds to import: only when the bench runs, not when the CLI starts.
    import torch

    from oracle.torch_loss import parameter_loss

    loss, names = parameter_loss(case)
    params = tuple(torch.tensor(case.params[n], dtype=torch.float64, requires_grad=True) for n in names)

    def check(grads=None):
        fn = loss if grads is None else _with_gradient(loss, names, grads)

        def run() -> bool:
            torch.manual_seed(0)  # fast_mode's random vectors: the same in every run
            return bool(torch.autograd.gradcheck(fn, params, atol=atol, rtol=rtol, fast_mode=fast,
                                                 raise_exception=False))

        return run

    return check


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
        lines.append(f"goal: full check (central) of {GOAL_NETWORK} {activation} {row.speedup:.1f}x faster than gradcheck, "
                     f"agree={row.agree}; goal >= {GOAL_SPEEDUP:.0f}x with the same verdicts ({'met' if met else 'not met'})")
    directional = frame[frame.method == "directional"]
    if len(directional):
        slowest = directional.speedup.min()
        lines.append(f"goal: directional at least as fast as gradcheck(fast_mode=True): slowest {slowest:.2f}x "
                     f"({'met' if slowest >= 1.0 else 'not met'})")
    accurate = frame[frame.method.isin(["richardson", "complex"])]
    if len(accurate):
        worst = accurate.err_vs_torch.max()
        lines.append(f"goal: richardson and complex within {GOAL_ERROR:g} of torch's gradient: worst {worst:.2g} "
                     f"({'met' if worst <= GOAL_ERROR else 'not met'})")
    return lines + fd_rnn.goal_lines(frame)
