"""Closed-form signatures of a wrong tensor against its reference: a constant ratio, a transpose,
zeros, a few entries; judged under the row's own tolerance (|a - b| <= atol + rtol |b|)."""

from __future__ import annotations

import numpy as np

from refbp.cases import format_entry

# The ids found without any re-computation, and what each means (docs/formats.md lists them).
SIGNATURES = {
    "scaled:<k>": "every entry is k times the reference (k = 2: a factor 2 too many, as when the 1/2 of half_sse "
    "is forgotten; k = B or 1/B: summed where the loss takes the mean over the batch, or the reverse)",
    "sign": "every entry has the wrong sign: the error taken as (t - y) instead of (y - t), or a step added "
    "instead of subtracted",
    "transposed": "equals the reference transposed: dL/dW computed as x^T delta instead of delta^T x (or W used "
    "where W^T belongs)",
    "zero": "all zeros where the reference is not: a gradient never accumulated or never returned (a bias "
    "gradient left out?)",
    "entries:<n>": "only n entries are wrong, the rest match: an indexing slip",
    "missing": "the implementation gave no value for this tensor",
    "forward-mismatch": "the gradient is the true one, but it does not match the implementation's own loss: its "
    "forward (the loss finite differences probe) is what is wrong",
    "non-finite": "NaN or infinity where the reference is finite: an overflow, a log of 0 or a division by 0",
    "unknown": "no classic bug's signature matches; look at the worst entry",
}
MAX_ENTRIES = 3


def excess(actual, reference, atol: float, rtol: float) -> float:
    """The largest |a - b| / (atol + rtol |b|): at most 1 where every entry is within tolerance."""
    actual, reference = np.asarray(actual, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    if actual.shape != reference.shape:
        return np.inf
    with np.errstate(invalid="ignore", over="ignore"):
        ratio = np.abs(actual - reference) / (atol + rtol * np.abs(reference) + np.finfo(np.float64).tiny)
    return float(np.max(np.nan_to_num(ratio, nan=np.inf), initial=0.0))


def within(actual, reference, atol: float, rtol: float) -> bool:
    return excess(actual, reference, atol, rtol) <= 1.0


def named_factors(case) -> list[tuple[str, float, str]]:
    """(name in the id, value, what a slip with this ratio typically is)."""
    batch, steps = case.batch, case.steps
    factors = [
        ("2", 2.0, "a factor 2 too many, as when the 1/2 of half_sse is forgotten in its gradient"),
        ("1/2", 0.5, "half of it: a factor 1/2 too many"),
        ("B", float(batch), f"B = {batch}, the batch size: summed over the batch where the loss takes the mean"),
        ("1/B", 1.0 / batch, f"1/B, B = {batch} the batch size: divided by the batch where the loss sums"),
    ]
    values = int(np.prod(case.targets.shape)) if case.targets.dtype.kind != "i" else 0
    if case.loss == "mse" and values not in (0, batch):
        factors += [
            (
                "N",
                float(values),
                f"N = {values}, the number of values mse's mean is over: summed where the loss takes the mean",
            ),
            ("1/N", 1.0 / values, f"1/N, N = {values} values: divided where the loss sums"),
        ]
    if case.network.kind == "rnn":
        factors += [
            ("T", float(steps), f"T = {steps}, the number of steps: summed over time where the loss takes the mean"),
            ("1/T", 1.0 / steps, f"1/T, T = {steps} the number of steps: divided by the steps where the loss sums"),
        ]
    return factors


def ratio_name(k: float, case) -> tuple[str, str]:
    """(the k of `scaled:<k>`, what it means): a named factor where k is one (a tie says so), else the number."""
    same = [(name, what) for name, value, what in named_factors(case) if abs(k - value) <= 1e-9 * abs(value)]
    if same:
        return same[0][0], "; or ".join(what for _, what in same)
    for n in range(2, 10001):
        if abs(k - n) <= 1e-9 * n:
            return str(n), "a constant factor wrong (a count, a scale or a learning rate)"
        if abs(k * n - 1.0) <= 1e-9:
            return f"1/{n}", "a constant factor wrong (a count, a scale or a learning rate)"
    return f"{k:.6g}", "a constant factor wrong (a count, a scale or a learning rate)"


def snapped(k: float, actual, reference, atol: float, rtol: float, case) -> float:
    """The fitted ratio `k`, or the simple value nearest it that explains the answer as well within
    the row's own tolerance: a named factor (2, 1/2, B, 1/B, N, T, ...), -1, or a whole number or its
    inverse. The fit carries the answer's rounding: ~1e-15 in float64, ~1e-3 in float16 and ~1e-2
    in bfloat16, where a factor-2 bug reads 2.00074; the row's tolerance is what that precision
    resolves, so a value it cannot tell from k is the ratio's name."""
    candidates = [value for _, value, _ in named_factors(case)] + [-1.0]
    whole = float(round(k)) if abs(k) >= 1.0 else 1.0 / round(1.0 / k)
    candidates += [whole] if whole not in (0.0, 1.0) and np.isfinite(whole) else []
    for value in sorted(candidates, key=lambda v: abs(k - v) / abs(v)):
        if abs(k - value) > 0.5 * abs(value):
            break
        if within(actual, value * reference, atol * max(1.0, abs(value)), rtol):
            return value
    return k


def closed_form(actual, reference, atol: float, rtol: float, case):
    """(id, note) of a constant ratio (sign for -1), zeros or a transpose; None when none holds."""
    a, r = np.asarray(actual, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    if a.shape != r.shape or not np.all(np.isfinite(a)):
        return None
    significant = np.abs(r) > atol + rtol * np.abs(r)
    if not significant.any():
        return None
    if np.all(np.abs(a) <= atol):
        return "zero", SIGNATURES["zero"]
    if r.ndim == 2 and r.shape[0] == r.shape[1] and not within(r.T, r, atol, rtol) and within(a, r.T, atol, rtol):
        return "transposed", SIGNATURES["transposed"]
    k = float(np.sum(a * r) / np.sum(r * r))
    if not np.isfinite(k) or k == 0.0:
        return None
    k = snapped(k, a, r, atol, rtol, case)
    if not within(a, k * r, atol * max(1.0, abs(k)), rtol) or within(a, r, atol, rtol):
        return None
    if k == -1.0:
        return "sign", SIGNATURES["sign"]
    name, what = ratio_name(k, case)
    if int(significant.sum()) < 2 and not any(name == n for n, _, _ in named_factors(case)):
        return None  # one number always has some ratio to another: only a named factor says something
    return f"scaled:{name}", f"every entry is {name} times the reference: {what}"


def wrong_entries(actual, reference, atol: float, rtol: float, tensor: str):
    """(`entries:<n>`, the entries named) when at most a few entries are wrong and the rest match."""
    a, r = np.asarray(actual, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    if a.shape != r.shape or a.size < 4:
        return None
    with np.errstate(invalid="ignore"):
        bad = ~(np.abs(a - r) <= atol + rtol * np.abs(r))
    count = int(bad.sum())
    if count == 0 or count > min(MAX_ENTRIES, a.size // 4):
        return None
    named = ", ".join(format_entry(tensor, index) for index in np.argwhere(bad))
    return f"entries:{count}", f"only {count} of {a.size} entries are wrong ({named}), the rest match: an indexing slip"


def shape_signature(actual, reference, per_example, atol: float, rtol: float):
    """(id, note) of a tensor of the wrong shape: the reference transposed, or one gradient per example."""
    a, r = np.asarray(actual, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    if r.ndim == 2 and a.shape == r.T.shape and within(a, r.T, atol, rtol):
        return "transposed", SIGNATURES["transposed"]
    if per_example is not None and a.shape == per_example.shape and within(a, per_example, atol, rtol):
        return "not-summed-over-batch", (
            f"one gradient per example (shape {list(a.shape)}), not summed over the batch of {a.shape[0]}"
        )
    return None
