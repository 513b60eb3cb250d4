"""`refbp bench fd`: refbp's finite-difference checks against torch.autograd.gradcheck.

Per sigmoid MLP (half_sse, batch 8, float64), in the same process, on the same function
and data:
  central, richardson, complex   refbp's full check of every parameter (refbp's gradient,
                                 the finite differences, the comparison) vs gradcheck
  directional                    refbp's directional check (4 directions) vs gradcheck(fast_mode=True)
Times are medians of several rounds in which refbp's checks and gradcheck take turns
(refbp.bench.measure.interleaved_medians). `agree` is true when both reach the same verdict on the
correct gradient (pass) AND both reject a gradient whose largest-magnitude entry is off by
1e-3 relative (for gradcheck: a custom autograd Function whose backward returns that
gradient). gradcheck is given the same atol/rtol as refbp's row (refbp.check.tolerance);
its step is its own default (eps=1e-6). `err_vs_torch` is the largest error of refbp's
finite differences against torch autograd's gradient, relative to the largest entry of
each tensor (directional: relative to each projection).
"""

from __future__ import annotations

import numpy as np

HELP = """\
Time refbp's finite-difference checks against torch.autograd.gradcheck (same function, data, tolerances).

Sigmoid MLPs 2-2-2, 10-32-32-4, 32-64-64-10 and 64-128-128-10, half_sse, batch 8, float64.
Rows: central, richardson and complex (refbp's full check of every parameter) against
torch.autograd.gradcheck, and directional against torch.autograd.gradcheck(fast_mode=True).
Columns: network, batch, params, method, baseline, refbp_s, baseline_s, speedup
(baseline_s / refbp_s; medians of up to 7 rounds in which refbp and gradcheck take turns), agree (same verdict on the correct
gradient, and both reject one entry off by 1e-3 relative), and the four verdicts behind it,
err_vs_torch (refbp's finite differences against torch autograd's gradient).
Writes reports/bench-fd-<id>/ (results.csv, summary.md).
"""

NETWORKS = ((2, 2, 2), (10, 32, 32, 4), (32, 64, 64, 10), (64, 128, 128, 10))
QUICK_NETWORKS = ((2, 2, 2), (10, 32, 32, 4))
BATCH = 8
METHODS = ("central", "richardson", "complex", "directional")
BASELINES = {False: "torch.autograd.gradcheck", True: "torch.autograd.gradcheck(fast_mode=True)"}
WRONG_RELATIVE = 1e-3


def add_arguments(parser) -> None:
    parser.add_argument("--json", action="store_true", help="print the rows as a JSON list on stdout (table on stderr)")
    parser.add_argument("--quick", action="store_true", help="the two small networks and short medians (a smoke test)")
    parser.add_argument("--repeats", type=int, metavar="N", help="rounds per median (default 7; --quick: 3); fewer, never under 3, "
                        "where a round takes long (64-128-128-10)")
    parser.add_argument("--report-dir", default="reports", metavar="DIR",
                        help="where the report folder bench-fd-<id>/ is written (default: ./reports)")
    parser.add_argument("--no-report", action="store_true", help="write no report folder")


def main(args) -> int:
    import json
    import sys

    import pandas as pd

    networks = QUICK_NETWORKS if args.quick else NETWORKS
    repeats = args.repeats or (3 if args.quick else 7)
    if repeats < 1:
        print("refbp bench fd: error: --repeats must be at least 1", file=sys.stderr)
        return 2
    rows = []
    for sizes in networks:
        rows += bench_network(sizes, repeats, quick=args.quick)
    frame = pd.DataFrame(rows)
    out = sys.stderr if args.json else sys.stdout
    with pd.option_context("display.width", 220, "display.max_columns", 30):
        print(frame.to_string(index=False, float_format=lambda v: f"{v:.3g}"), file=out)
    goals = goal_lines(frame)
    for line in goals:
        print(line, file=out)
    if not args.no_report:
        print(f"report: {write_report(frame, args.report_dir, repeats, goals)}", file=out)
    if args.json:
        json.dump(frame.to_dict(orient="records"), sys.stdout, indent=1)
        sys.stdout.write("\n")
    return 0


def make_case(sizes, batch: int = BATCH, seed: int = 0):
    from cases import Case, MLPNetwork

    rng = np.random.default_rng(seed)
    network = MLPNetwork(sizes=tuple(sizes), activations=("sigmoid",) * (len(sizes) - 1), bias=True)
    params = {}
    for name, shape in network.param_shapes().items():
        fan_in = sizes[int(name.split(".")[1])]
        params[name] = rng.standard_normal(shape) / np.sqrt(fan_in)
    inputs = rng.standard_normal((batch, sizes[0]))
    targets = rng.uniform(0.0, 1.0, (batch, sizes[-1]))
    return Case(id="bench-" + "-".join(map(str, sizes)), network=network, loss="half_sse", params=params,
                inputs=inputs, targets=targets)


def wrong_gradient(grads: dict) -> tuple[dict, str]:
    """The gradient with its largest-magnitude entry off by 1e-3 relative, and which entry."""
    name = max(grads, key=lambda n: float(np.max(np.abs(grads[n]))))
    index = np.unravel_index(int(np.argmax(np.abs(grads[name]))), grads[name].shape)
    wrong = {n: np.array(g, dtype=np.float64, copy=True) for n, g in grads.items()}
    wrong[name][index] *= 1.0 + WRONG_RELATIVE
    return wrong, name + "".join(f"[{int(i)}]" for i in index)


def bench_network(sizes, repeats: int, quick: bool = False) -> list[dict]:
    """The rows of one network. refbp's checks and their gradcheck baseline are timed in
    interleaved rounds (refbp.bench.measure): a burst of load from elsewhere on the machine
    then slows both sides alike, and the ratio stays fair."""
    from refbp.check.check_case import finite_difference_checks
    from refbp.nn import compute_trace
    from refbp.perturbed import loss_forms
    from refbp.trace import Trace

    from .measure import Effort, Timed, interleaved_medians

    case = make_case(sizes)
    count = sum(p.size for p in case.params.values())
    torch_grads = torch_gradient(case)
    wrong, wrong_entry = wrong_gradient(compute_trace(case).grads)
    effort = Effort(samples=repeats, min_sample_s=0.002 if quick else 0.02, max_measure_s=1.0 if quick else 12.0)

    def refbp_check(method, grads=None):
        trace = compute_trace(case) if grads is None else Trace(outputs=None, loss=0.0, grads=grads)
        return finite_difference_checks(case, trace, loss_forms(case), method)

    rows = []
    for fast, methods in ((False, ("central", "richardson", "complex")), (True, ("directional",))):
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
                "network": "-".join(map(str, sizes)), "batch": BATCH, "params": count, "method": method,
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
    from oracle.fd import finite_difference
    from refbp.perturbed import loss_forms

    result = finite_difference(method, loss_forms(case), case.params)
    if method == "directional":
        reference = np.array([sum(float(np.sum(torch_grads[n] * u[n])) for n in torch_grads)
                              for u in result.directions])
        return float(np.max(np.abs(result.directional - reference) / np.abs(reference)))
    return float(max(np.max(np.abs(result.grads[n] - g)) / np.max(np.abs(g)) for n, g in torch_grads.items()))


# ---- torch: the same function, its autograd gradient, gradcheck -------------------------------

def _torch_loss(case):
    import torch

    inputs = torch.as_tensor(case.inputs, dtype=torch.float64)
    targets = torch.as_tensor(case.targets, dtype=torch.float64)
    names = list(case.params)
    depth = len(case.network.sizes) - 1

    def loss(*params):
        by_name = dict(zip(names, params))
        x = inputs
        for i in range(depth):
            x = torch.sigmoid(x @ by_name[f"layers.{i}.weight"].T + by_name[f"layers.{i}.bias"])
        return 0.5 * ((targets - x) ** 2).sum()

    return loss, names


def torch_gradient(case) -> dict:
    import torch

    loss, names = _torch_loss(case)
    params = [torch.tensor(case.params[n], dtype=torch.float64, requires_grad=True) for n in names]
    grads = torch.autograd.grad(loss(*params), params)
    return {n: g.numpy() for n, g in zip(names, grads)}


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
    import torch

    loss, names = _torch_loss(case)
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
        lines.append(f"goal: full check (central) of {GOAL_NETWORK} {row.speedup:.1f}x faster than gradcheck, "
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
    return lines


def write_report(frame, report_dir, repeats: int, goals: list[str]):
    from refbp.report.write import _markdown_table, new_run_dir

    out = new_run_dir(report_dir, prefix="bench-fd")
    frame.to_csv(out / "results.csv", index=False)
    import torch

    lines = ["# refbp bench fd", "",
             f"numpy {np.__version__}, torch {torch.__version__} ({torch.get_num_threads()} threads); "
             f"medians of up to {repeats} interleaved rounds; float64, batch {BATCH}, sigmoid MLPs, half_sse.", "",
             _markdown_table(frame), "", *(f"- {line}" for line in goals), ""]
    (out / "summary.md").write_text("\n".join(lines))
    return out
