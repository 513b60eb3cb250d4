"""The checking layer: compare the implementation's traces with the references."""

from .check_case import ORACLES, Implementation, check_case, refbp_implementation
from .suite import SuiteRun, run_suite
from .verdict import CaseVerdict, Check

__all__ = [
    "ORACLES",
    "CaseVerdict",
    "Check",
    "Implementation",
    "SuiteRun",
    "check_case",
    "refbp_implementation",
    "run_suite",
]
