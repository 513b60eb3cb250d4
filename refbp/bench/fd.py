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
from typing import TYPE_CHECKING

from . import fd_rnn
from .common import BenchUsageError, timing_environment
from .fd_goals import GOAL_ERROR, GOAL_NETWORK, GOAL_SPEEDUP, goal_lines
from .fd_timing import (
    BASELINES,
    BATCH,
    BIG_ACTIVATION,
    BIG_NETWORK,
    BIG_SAMPLED_TENSORS,
    FULL_AND_FAST,
    WRONG_RELATIVE,
    bench_big_network,
    bench_network,
    error_vs_torch,
    make_case,
    refbp_check,
    row,
    sizes_of,
    wrong_gradient,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "ACTIVATIONS",
    "ACTIVATION_NETWORK",
    "BASELINES",
    "BATCH",
    "BIG_ACTIVATION",
    "BIG_NETWORK",
    "BIG_SAMPLED_TENSORS",
    "FULL_AND_FAST",
    "GOAL_ERROR",
    "GOAL_NETWORK",
    "GOAL_SPEEDUP",
    "METHODS",
    "NETWORKS",
    "QUICK_ACTIVATIONS",
    "QUICK_ACTIVATION_NETWORK",
    "QUICK_NETWORKS",
    "TITLE",
    "WRONG_RELATIVE",
    "Options",
    "bench_big_network",
    "bench_network",
    "environment",
    "error_vs_torch",
    "goal_lines",
    "make_case",
    "refbp_check",
    "row",
    "run",
    "sizes_of",
    "wrong_gradient",
]

NETWORKS = ((2, 2, 2), (10, 32, 32, 4), (32, 64, 64, 10), (64, 128, 128, 10))
QUICK_NETWORKS = ((2, 2, 2), (10, 32, 32, 4))
# Hidden activations timed on one network (central only), beyond the sigmoid networks above.
ACTIVATIONS = ("tanh", "relu", "leaky_relu", "elu", "softplus", "mixed")
ACTIVATION_NETWORK = (32, 64, 64, 10)
QUICK_ACTIVATIONS = ("relu", "mixed")
QUICK_ACTIVATION_NETWORK = (10, 32, 32, 4)
METHODS = ("central", "richardson", "complex", "directional")
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
