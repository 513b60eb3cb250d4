"""The goal lines of `refbp bench fd`: the issue's goals (speed-ups, verdicts, accuracy) as measured in a run."""

from __future__ import annotations

from . import fd_rnn
from .fd_timing import BIG_NETWORK

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
