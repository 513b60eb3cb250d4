"""Reports: pandas frames of a run, the console tables, and the report folders of runs
(reports/<run-id>/, refbp.report.write) and benches (reports/bench-<name>-<id>/,
refbp.report.bench), both written as one page by refbp.report.page."""

from .console import format_run
from .frames import details_frame, summary_frame
from .write import write_report

__all__ = ["details_frame", "format_run", "summary_frame", "write_report"]
