"""The checking layer: compare the implementation's traces with the references."""

from .check_case import ORACLES, Implementation, check_case, refbp_implementation
from .suite import SuiteRun, run_suite
from .verdict import Check, CaseVerdict

__all__ = ["ORACLES", "Check", "CaseVerdict", "Implementation", "SuiteRun", "check_case",
           "refbp_implementation", "run_suite"]
