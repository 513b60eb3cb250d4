"""The comparison tables: per case (status and worst error per reference, per column) and per
tensor (each column's error and verdict side by side)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from .columns import Column

REFERENCES = ("torch-autograd", "finite-difference", "expected", "own-forward-fd")
CHANGED = "case changed"


def unique_labels(columns: list[Column]) -> list[str]:
    labels: list[str] = []
    seen: dict[str, int] = {}
    for column in columns:
        seen[column.label] = seen.get(column.label, 0) + 1
        labels.append(column.label if seen[column.label] == 1 else f"{column.label} ({seen[column.label]})")
    return labels


def _status(rows: pd.DataFrame) -> str:
    first = rows.iloc[0]
    if first["error_kind"] == "input":
        return "bad input"
    if first["error_kind"] == "unsupported":
        return "not supported"
    if first.get("case_state") == "inconclusive":
        return "inconclusive"  # never a pass
    return "pass" if bool(first["case_passed"]) else "FAIL"


def _changed_cases(columns: list[Column]) -> set:
    hashes: dict[Any, set] = {}
    for column in columns:
        for case, digest in column.rows.groupby("case")["case_hash"].first().items():
            if isinstance(digest, str) and digest:
                hashes.setdefault(case, set()).add(digest)
    return {case for case, found in hashes.items() if len(found) > 1}


def case_table(columns: list[Column]) -> pd.DataFrame:
    """One row per case: per column its status, worst relative error per reference, seconds."""
    labels = unique_labels(columns)
    changed = _changed_cases(columns)
    cases = sorted(set().union(*(set(c.rows["case"]) for c in columns)))
    table = pd.DataFrame({"case": cases}).set_index("case")
    for label, column in zip(labels, columns):
        by_case = dict(list(column.rows.groupby("case")))
        table[f"{label}: status"] = [
            CHANGED if case in changed and case in by_case else _status(by_case[case]) if case in by_case else "-"
            for case in cases
        ]
        for reference in REFERENCES:
            worst = [_worst(by_case.get(case), reference) for case in cases]
            if any(not math.isnan(w) for w in worst):
                table[f"{label}: {reference}"] = worst
        table[f"{label}: seconds"] = [float(by_case[c]["seconds"].iloc[0]) if c in by_case else math.nan for c in cases]
    table["note"] = [
        f"{CHANGED}: its hash differs between columns, not compared" if c in changed else "" for c in cases
    ]
    return table.reset_index()


def _worst(rows: pd.DataFrame | None, reference: str) -> float:
    if rows is None:
        return math.nan
    errors = pd.to_numeric(rows.loc[rows["reference"] == reference, "max_rel_err"], errors="coerce")
    if errors.empty:
        return math.nan
    failed_without_number = rows.loc[rows["reference"] == reference, "state"].eq("fail") & errors.isna()
    return math.inf if failed_without_number.any() else float(errors.max())


def tensor_table(columns: list[Column]) -> pd.DataFrame:
    """One row per case x quantity x tensor x reference: each column's relative error and verdict."""
    labels = unique_labels(columns)
    changed = _changed_cases(columns)
    keys = ["case", "quantity", "tensor", "reference"]
    merged = None
    for label, column in zip(labels, columns):
        rows = column.rows.dropna(subset=["quantity"])[keys + ["max_rel_err", "passed", "state"]]
        rows = rows.rename(
            columns={"max_rel_err": f"{label}: rel err", "passed": f"{label}: passed", "state": f"{label}: state"}
        )
        merged = rows if merged is None else merged.merge(rows, on=keys, how="outer")
    merged = merged[~merged["case"].isin(changed)] if merged is not None else pd.DataFrame(columns=keys)
    return merged.sort_values(keys).reset_index(drop=True)


MARKS = {
    "FAIL": "x",
    "bad input": "bad",
    "not supported": "n/s",
    CHANGED: "changed",
    "-": "",
    "pass": "",
    "inconclusive": "?",
}


def heatmap_values(columns: list[Column]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(log10 of each case's worst relative error, per column; marks: "x" where the case failed,
    "n/s" where the implementation does not support it, "bad"/"changed", "" otherwise)."""
    table = case_table(columns)
    labels = unique_labels(columns)
    values = pd.DataFrame(index=table["case"])
    failed = pd.DataFrame(index=table["case"])
    for label in labels:
        error_columns = [c for c in table.columns if c.startswith(f"{label}: ") and c.split(": ", 1)[1] in REFERENCES]
        worst = table[error_columns].max(axis=1).to_numpy() if error_columns else np.full(len(table), np.nan)
        with np.errstate(divide="ignore"):
            values[label] = np.log10(np.clip(worst, 1e-17, 1e17))
        failed[label] = table[f"{label}: status"].map(MARKS).fillna("").to_numpy()
    return values, failed
