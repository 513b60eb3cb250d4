"""`refbp explain CASE --param NAME --result RESULT`: the chain-rule factors of the reference beside
an implementation's, the first that differs marked.

The implementation's factors are the ones its result gives (`intermediates` and `error_signals`,
docs/formats.md section 3; its local slope is its own dE/dnet / dE/dout); the reference's come
from the float64 re-derivation of refbp.diagnosis (never refbp.nn, never the result). Both are
laid out by refbp.explain's MLPExplanation, line for line, so a line whose numbers differ (at the
nine decimals printed) is where the two part. A value the entry uses that is not finite (NaN, an
infinity), or factors that overflow float64, are said in one line instead of arithmetic with nan.
"""

from __future__ import annotations

import math

import numpy as np

from refbp.cases import Case, MLPNetwork

from .check.results import read_results, result_trace
from .diagnosis.training import derive
from .explain import MAX_EXAMPLES_SHOWN, MLPExplanation

MARK = "<- the first factor that differs"


def _first_difference(ours: str, theirs: str) -> str:
    """`MARK: X where the reference has Y` for the first number of the line that differs."""
    pairs = [(a, b) for a, b in zip(ours.split(), theirs.split()) if a != b]
    return f"{MARK}: {pairs[0][1]} where the reference has {pairs[0][0]}" if pairs else MARK


def explain_result(case: Case, name: str, result_path) -> str:
    if not isinstance(case.network, MLPNetwork):
        raise ValueError(f"{case.id}: --param explains MLP cases")
    found = [r for r in read_results(result_path) if r.case == case.id]
    if not found:
        raise ValueError(f"{result_path}: no result for case {case.id!r}")
    trace = result_trace(found[0], case).trace
    needed = [f"layers.{i}.{kind}" for i in range(case.network.depth) for kind in ("net", "out")]
    missing = [n for n in needed if n not in trace.intermediates]
    missing += [
        f"layers.{i}.{kind}"
        for i in range(case.network.depth)
        for kind in ("grad_out", "grad_net")
        if f"layers.{i}.{kind}" not in trace.error_signals
    ]
    if missing:
        raise ValueError(
            f"{result_path}: the result does not give {', '.join(missing[:4])} (intermediates and "
            f"error_signals: docs/formats.md section 3), so its chain rule cannot be laid out"
        )
    if trace.loss is None:
        trace.loss = math.nan
    tensor, index = case.resolve_entry(name)
    with np.errstate(all="ignore"):  # huge values overflow: said below in one line, never a RuntimeWarning
        reference = MLPExplanation(case, derive(case)).entry(name, tensor, index).splitlines()
        given = MLPExplanation(case, trace, own_slopes=True).entry(name, tensor, index).splitlines()
    lines = [
        f"{reference[0]}",
        f"  reference (refbp's float64 re-derivation) beside {found[0].implementation} ({found[0].label()})",
    ]
    problem = _not_finite(case, trace, tensor, index, given[1:])
    if problem:  # arithmetic with nan or inf in it explains nothing: the reference, and what is not finite
        lines += [f"  {line}" for line in reference[1:]]
        lines.append(f"  implementation: {problem}")
        return "\n".join(lines)
    marked = False
    for ours, theirs in zip(reference[1:], given[1:]):
        if ours == theirs:
            lines.append(f"  {ours}")
            continue
        lines.append(f"  reference:      {ours.strip()}")
        lines.append(
            f"  implementation: {theirs.strip()}" + ("" if marked else f"   {_first_difference(ours, theirs)}")
        )
        marked = True
    if not marked:
        lines.append("  every factor agrees with the reference at the printed precision")
    return "\n".join(lines)


def _not_finite(case: Case, trace, tensor: str, index: tuple, given_lines: list[str]) -> str:
    """ "" when every value of the result that the entry's chain rule uses is finite and so is every
    factor computed from them; else one sentence naming the first value that is not."""
    network = case.network
    assert isinstance(network, MLPNetwork)  # explain_result took MLP cases only
    layer, unit = int(tensor.split(".")[1]), index[0]
    rows = range(min(case.batch, MAX_EXAMPLES_SHOWN))
    used = [("error_signals", f"layers.{layer}.{kind}", [(b, unit) for b in rows]) for kind in ("grad_out", "grad_net")]
    used += [("intermediates", f"layers.{layer}.{kind}", [(b, unit) for b in rows]) for kind in ("net", "out")]
    if tensor.endswith("weight") and layer > 0:
        used.append(("intermediates", f"layers.{layer - 1}.out", [(b, index[1]) for b in rows]))
    if layer < network.depth - 1:
        width = network.sizes[layer + 2]
        used.append(("error_signals", f"layers.{layer + 1}.grad_net", [(b, k) for b in rows for k in range(width)]))
    for field, name, entries in used:
        values = np.asarray(getattr(trace, field)[name], dtype=np.float64)
        for entry in entries:
            if not math.isfinite(values[entry]):
                return (
                    f"{field}.{name}{''.join(f'[{i}]' for i in entry)} is {values[entry]}, not a finite number: "
                    f"its chain rule cannot be laid out"
                )
    if any(word in ("nan", "inf", "-inf") for line in given_lines for word in line.replace("(", " ").split()):
        return (
            "a factor computed from its values is not finite (they overflow float64): its chain rule cannot be laid out"
        )
    return ""
