"""What a fuzz run tried, counted: examples per kind, activation, loss, depth, dtype, value
range and optimizer, the speed (examples per second) and the closest call to a tolerance."""

from __future__ import annotations

from collections import Counter

FEATURES = ("kind", "activations", "loss", "depth", "values", "optimizer")


def counts(outcomes) -> dict[str, Counter]:
    """{feature: Counter of its values} over the checked examples (an activation counts once
    per example that uses it anywhere)."""
    tables: dict[str, Counter] = {feature: Counter() for feature in FEATURES}
    for outcome in outcomes:
        for feature in FEATURES:
            value = outcome.features.get(feature)
            tables[feature].update(value if isinstance(value, list) else [value])
    return tables


def summary_lines(run) -> list[str]:
    """The run in a few lines of text (what the command prints)."""
    checked = run.checked
    lines = [
        ("refbp fuzz: INTERRUPTED (Ctrl-C): " if getattr(run, "interrupted", "") else "refbp fuzz: ")
        + f"{len(checked)} examples checked ({run.options.kind}, {run.options.dtype}, seed "
        f"{run.options.seed}) in {run.seconds:.1f} s: {run.examples_per_second:.1f} examples/s; "
        f"{len(run.failed)} failed, "
        + (f"{len(run.inconclusive)} inconclusive, " if run.inconclusive else "")
        + f"{len(run.declined)} not supported"
        + (
            f" ({100 * len(checked) // drawn} % of the drawn examples checked)"
            if (drawn := len(checked) + len(run.declined))
            else ""
        )
    ]
    space = getattr(run.options, "space", None)
    if space is not None:  # drawn inside the implementation's capabilities and the options' narrowing
        lines.append(f"  drawn inside: {space.describe()}")
    for feature, table in counts(checked).items():
        shown = ", ".join(f"{value} {n}" for value, n in sorted(table.items(), key=lambda kv: (-kv[1], str(kv[0]))))
        lines.append(f"  {feature:<12}{shown}")
    passed = [o for o in checked if o.passed]
    if passed:
        lines.append(
            f"  closest call of a passing example (torch rows): an error {max(o.worst_margin for o in passed):.3g} "
            "times its tolerance"
        )
    for failure in run.failed[:10]:
        lines.append(f"  FAILED example {failure.index}: {failure.failure}")
    if len(run.failed) > 10:
        lines.append(f"  ... and {len(run.failed) - 10} more failed examples")
    for outcome in run.inconclusive[:5]:
        lines.append(
            f"  inconclusive example {outcome.index}: no check failed, but some entries no reference "
            "could judge to the accuracy needed"
        )
    for path, shrunk in zip(run.saved, run.shrunk):
        how = f"shrunk in {shrunk.checks} checks" if shrunk.checks else "as drawn"
        lines.append(f"  saved {path} (example {shrunk.original_index} {how}): {shrunk.outcome.failure}")
    return lines
