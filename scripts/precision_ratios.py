"""The ratio |implementation error| / |torch's own error| per tensor, over a set of cases, at one dtype.

    python scripts/precision_ratios.py examples/corpus/numpy_low_precision.py:factory_float16 float16 [PATH ...]

Each case (default: cases/precision/) is checked at DTYPE as `refbp check --impl IMPL --dtype
DTYPE` checks it, in this process; for every torch-autograd row the ratio of the row's largest
error to torch's own largest error at that precision (`torch_error`) is collected. Prints the
verdicts' states and the ratios' distribution (rows where torch's error is 0 are counted apart).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np

from refbp.cases import SUITE_DIR, discover, load_case
from refbp.cases.dtypes import at_dtype
from refbp.check.adapter import Declined
from refbp.check.check_adapter import check_adapter_case


def load_factory(spec: str):
    path, _, name = spec.rpartition(":")
    module_spec = importlib.util.spec_from_file_location("impl_under_test", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return getattr(module, name)


def main(argv: list[str]) -> int:
    spec, dtype, *paths = argv
    factory = load_factory(spec)
    cases = [load_case(path) for path in discover([Path(p) for p in paths] or [SUITE_DIR / "precision"])]
    states: dict[str, int] = {}
    ratios, exact = [], 0
    for case in cases:
        try:
            with np.errstate(all="ignore"):
                verdict = check_adapter_case(at_dtype(case, dtype), factory, spec)
        except Declined:
            states["declined"] = states.get("declined", 0) + 1
            continue
        state = "fail" if not verdict.passed else ("inconclusive" if verdict.inconclusive else "pass")
        states[state] = states.get(state, 0) + 1
        for row in verdict.checks:
            if row.reference == "torch-autograd" and np.isfinite(row.torch_error) and np.isfinite(row.max_abs_err):
                if row.torch_error > 0:
                    ratios.append(row.max_abs_err / row.torch_error)
                else:
                    exact += 1
            if not row.passed:
                print(f"  FAIL {case.id} {row.quantity} {row.tensor}: {row.note} [{row.diagnosis}]")
    print(f"{spec} at {dtype}: {len(cases)} cases: " + ", ".join(f"{n} {k}" for k, n in sorted(states.items())))
    if ratios:
        q = np.quantile(ratios, [0.0, 0.5, 0.9, 0.99, 1.0])
        print(
            f"  |implementation error| / |torch's own error|, {len(ratios)} tensors: min {q[0]:.2f}, "
            f"median {q[1]:.2f}, 90% {q[2]:.2f}, 99% {q[3]:.2f}, max {q[4]:.2f}; "
            f"above 2: {sum(r > 2 for r in ratios)}; "
            f"torch exact (error 0): {exact}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
