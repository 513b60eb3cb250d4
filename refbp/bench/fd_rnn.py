"""`refbp bench fd`'s RNN rows: the problems and the goal line (refbp.bench.fd times them).

One row per nonlinearity (tanh, relu): an 8-32-4 RNN (input, hidden, output sizes), T = 20
steps, batch 4, float64, a readout at every step with an identity output and half_sse;
Xavier-uniform weights, normal inputs, uniform targets (refbp.cases.generate). refbp's full central
check (its gradient, the finite differences through the batched RNN form
refbp.perturbed.rnn_losses, the comparison) against torch.autograd.gradcheck on the torch
reference's RNN loss as a function of its parameter tensors (refbp.oracle.torch_loss.parameter_loss:
torch.nn.RNN itself), the same row fields as the MLP rows, `kind` rnn and `activation` the
nonlinearity.
"""

from __future__ import annotations

from refbp.cases import Case, RNNNetwork
from refbp.cases.generate import random_problem

NETWORK = (8, 32, 4)
STEPS = 20
BATCH = 4
QUICK_NETWORK, QUICK_STEPS = (3, 8, 2), 5
NONLINEARITIES = ("tanh", "relu")
GOAL_SPEEDUP = 20.0
PROBLEM = (
    f"RNN rows: {'-'.join(map(str, NETWORK))} (input-hidden-output), T = {STEPS}, batch {BATCH}, "
    "every-step identity readout, half_sse"
)


def make_case(nonlinearity: str, quick: bool = False, seed: int = 0) -> Case:
    """The RNN of the rows (quick: a 3-8-2 RNN of 5 steps)."""
    (inputs_size, hidden, outputs_size), steps = (QUICK_NETWORK, QUICK_STEPS) if quick else (NETWORK, STEPS)
    network = RNNNetwork(inputs_size, hidden, outputs_size, nonlinearity=nonlinearity)
    params, inputs, targets = random_problem(
        network.param_shapes(), (BATCH, steps, inputs_size), (BATCH, steps, outputs_size), targets="uniform", seed=seed
    )
    return Case(
        id=f"bench-rnn-{inputs_size}-{hidden}-{outputs_size}-t{steps}-{nonlinearity}",
        network=network,
        loss="half_sse",
        params=params,
        inputs=inputs,
        targets=targets,
    )


def sizes_of(case: Case) -> tuple[int, int, int]:
    network = case.network
    assert network.kind == "rnn"
    return network.input_size, network.hidden_size, network.output_size


def goal_lines(frame) -> list[str]:
    """The issue's RNN goal as measured in this run: every RNN row >= GOAL_SPEEDUP x, agree=True."""
    if "kind" not in frame:
        return []
    lines = []
    for row in frame[frame.kind == "rnn"].itertuples():
        met = row.speedup >= GOAL_SPEEDUP and row.agree
        lines.append(
            f"goal: full check (central) of RNN {row.network} {row.activation} T = {row.steps} "
            f"{row.speedup:.1f}x faster than gradcheck, agree={row.agree}; goal >= {GOAL_SPEEDUP:.0f}x "
            f"with the same verdicts ({'met' if met else 'not met'})"
        )
    return lines
