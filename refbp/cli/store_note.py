"""Recording a finished run in the verdict store, for every command that checks something.

The report is already written when this runs: a store that cannot be reached costs the run
nothing but a one-line warning on stderr (REFBP_DATABASE_URL=none turns the store off)."""

from __future__ import annotations

import sys


def record_in_store(run, command: str, implementation_version: str = "") -> str | None:
    """The run's id in the store, or None (store off, a run that checked nothing or was interrupted
    (Ctrl-C: not the verdict of the cases asked for), or a warning printed)."""
    if run.nothing_checked() or getattr(run, "interrupted", False):
        return None
    # Imported here: SQLAlchemy and Alembic take a while to import, and a run needs them only now.
    from refbp.report.environment import environment
    from refbp.report.score import score_of
    from refbp.store import StoreError, keep_run
    from refbp.store.database import store_off

    if store_off():
        return None
    try:
        # The score goes with the run's environment (docs/formats.md 6.1): no column of its own.
        run_id, _ = keep_run(
            run, command, environment({"score": score_of(run)}), implementation_version=implementation_version
        )
    except StoreError as exc:
        print(f"refbp: warning: {exc}", file=sys.stderr)
        return None
    return run_id


def recorded_line(run_id: str | None) -> str:
    """The table's last line about the store ("" when the run was not kept)."""
    return f"\nrecorded as run {run_id} in the verdict store (refbp history)" if run_id else ""
