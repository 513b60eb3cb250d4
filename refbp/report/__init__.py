"""Reports of a run: pandas frames, the console table, and the files under reports/<run-id>/."""

from .console import format_run
from .frames import details_frame, summary_frame
from .write import write_report

__all__ = ["details_frame", "format_run", "summary_frame", "write_report"]
