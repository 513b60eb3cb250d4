"""Mutation testing of refbp.nn's backward passes, loss gradients and optimizers against the
shipped suite (`refbp mutate`): the mutants (refbp.mutate.mutants, operators), the run in a
temporary copy (refbp.mutate.run, server), the equivalent mutants with their reasons
(refbp.mutate.equivalent) and the report (refbp.mutate.report)."""

from .mutants import TARGETS, Mutant, mutants_of
from .report import report_lines, report_markdown, report_summary
from .run import MutantResult, MutationRun, SuiteFailsUnmutated, run_mutation

__all__ = [
    "TARGETS",
    "Mutant",
    "MutantResult",
    "MutationRun",
    "SuiteFailsUnmutated",
    "mutants_of",
    "report_lines",
    "report_markdown",
    "report_summary",
    "run_mutation",
]
