"""A smoke run of the load-and-fault command (`python -m refbp.bench.service_attack`): every phase
answers verdicts while it is attacked, the server is healthy after, and a kill -9 under load
loses no acknowledged verdict and, after retries with idempotency keys, stores each request
once in a store whose integrity check passes. No timing is asserted: the figures are the
command's (docs/service.md)."""

from __future__ import annotations

from refbp.bench.service_attack import run


def test_the_attacks_and_a_kill_lose_nothing_acknowledged():
    # Small: one server process, 100 idle sockets, 2 MB bodies (the command's defaults take minutes).
    frame = run(runs=300, clients=2, seconds=1.0, kills=1, workers=1, idle_sockets=100, large_bytes=2 << 20)
    phases = frame[frame["phase"].isin(["baseline", "compare flood + 100 idle sockets", "2 MB bodies"])]
    assert len(phases) == 3 and (phases["verify_per_s"] > 0).all(), frame.to_string()
    assert bool(phases.iloc[-1]["healthy_after"])
    kill = frame[frame["phase"] == "kill -9 round 1"].iloc[0]
    assert kill["acknowledged"] > 0 and kill["acknowledged_lost"] == 0 and kill["duplicates_after_retry"] == 0
    assert kill["retried_and_stored"] == kill["sent"] and kill["integrity"] == "ok"
