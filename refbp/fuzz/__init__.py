"""Property-based fuzzing of a backpropagation: `refbp fuzz` as library functions.

Examples are whole `refbp-case/1` documents drawn by hypothesis (refbp.fuzz.space, from the
public strategies), reproducibly per seed and index (refbp.fuzz.draw); each is checked as
`refbp run` or `refbp check` checks a case (refbp.fuzz.unit); failures are shrunk by
hypothesis (refbp.fuzz.shrink) and written as regression cases (refbp.fuzz.save); a run
ties these together (refbp.fuzz.run) and is summarised (refbp.fuzz.summary).
Needs hypothesis (the `fuzz` extra).
"""

from .run import DEFAULT_EXAMPLES, FuzzOptions, FuzzRun, run_fuzz
from .space import KINDS
from .summary import summary_lines
from .unit import ExampleOutcome, FuzzUnit, Target, check_unit

__all__ = [
    "DEFAULT_EXAMPLES",
    "KINDS",
    "ExampleOutcome",
    "FuzzOptions",
    "FuzzRun",
    "FuzzUnit",
    "Target",
    "check_unit",
    "run_fuzz",
    "summary_lines",
]
