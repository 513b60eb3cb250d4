"""The first schema of the verdict store: runs, case_verdicts, checks.

Revision ID: 0001
Revises: -
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _required(**types) -> list:
    """NOT NULL columns, by name and type."""
    return [sa.Column(name, kind, nullable=False) for name, kind in types.items()]


def _key() -> sa.Column:
    return sa.Column("id", sa.Integer, primary_key=True, autoincrement=True)


def _parent(table: str) -> sa.ForeignKey:
    return sa.ForeignKey(f"{table}.id", ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.String(32), primary_key=True),  # uuid4 hex
        *_required(
            command=sa.String(16),
            started=sa.String(32),
            seconds=sa.Float,
            implementation=sa.String(200),
            implementation_version=sa.String(100),
            refbp_version=sa.String(32),
            passed=sa.Boolean,
            exit_code=sa.Integer,
            cases=sa.Integer,
            failed_cases=sa.Integer,
            environment=sa.JSON,
        ),
    )
    op.create_table(
        "case_verdicts",
        _key(),
        sa.Column("run_id", sa.String(32), _parent("runs"), nullable=False),
        *_required(
            case_id=sa.String(200),
            case_hash=sa.String(64),
            implementation=sa.String(200),
            passed=sa.Boolean,
            error_kind=sa.String(16),
            errors=sa.JSON,
            not_provided=sa.JSON,
            path=sa.Text,
            network=sa.String(200),
            dtype=sa.String(16),
            seconds=sa.Float,
        ),
    )
    op.create_index("ix_case_verdicts_run_id", "case_verdicts", ["run_id"])
    op.create_index("ix_case_verdicts_case_id", "case_verdicts", ["case_id"])
    op.create_table(
        "checks",
        _key(),
        sa.Column("case_verdict_id", sa.Integer, _parent("case_verdicts"), nullable=False),
        *_required(
            quantity=sa.String(32),
            tensor=sa.String(200),
            reference=sa.String(32),
            method=sa.String(32),
            passed=sa.Boolean,
        ),
        # NULL where the error is not finite (a missing tensor, a NaN answer): the row's note says why.
        sa.Column("max_abs_err", sa.Float, nullable=True),
        sa.Column("max_rel_err", sa.Float, nullable=True),
        *_required(worst_index=sa.JSON, atol=sa.Float, rtol=sa.Float, checked=sa.Integer, note=sa.Text),
    )
    op.create_index("ix_checks_case_verdict_id", "checks", ["case_verdict_id"])


def downgrade() -> None:
    op.drop_table("checks")
    op.drop_table("case_verdicts")
    op.drop_table("runs")
