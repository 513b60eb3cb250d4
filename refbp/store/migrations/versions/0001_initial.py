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


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("command", sa.String(16), nullable=False),
        sa.Column("started", sa.String(32), nullable=False),
        sa.Column("seconds", sa.Float, nullable=False),
        sa.Column("implementation", sa.String(200), nullable=False),
        sa.Column("implementation_version", sa.String(100), nullable=False),
        sa.Column("refbp_version", sa.String(32), nullable=False),
        sa.Column("passed", sa.Boolean, nullable=False),
        sa.Column("exit_code", sa.Integer, nullable=False),
        sa.Column("cases", sa.Integer, nullable=False),
        sa.Column("failed_cases", sa.Integer, nullable=False),
        sa.Column("environment", sa.JSON, nullable=False),
    )
    op.create_table(
        "case_verdicts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("case_id", sa.String(200), nullable=False),
        sa.Column("case_hash", sa.String(64), nullable=False),
        sa.Column("implementation", sa.String(200), nullable=False),
        sa.Column("passed", sa.Boolean, nullable=False),
        sa.Column("error_kind", sa.String(16), nullable=False),
        sa.Column("errors", sa.JSON, nullable=False),
        sa.Column("not_provided", sa.JSON, nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("network", sa.String(200), nullable=False),
        sa.Column("dtype", sa.String(16), nullable=False),
        sa.Column("seconds", sa.Float, nullable=False),
    )
    op.create_index("ix_case_verdicts_run_id", "case_verdicts", ["run_id"])
    op.create_index("ix_case_verdicts_case_id", "case_verdicts", ["case_id"])
    op.create_table(
        "checks",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("case_verdict_id", sa.Integer, sa.ForeignKey("case_verdicts.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("quantity", sa.String(32), nullable=False),
        sa.Column("tensor", sa.String(200), nullable=False),
        sa.Column("reference", sa.String(32), nullable=False),
        sa.Column("method", sa.String(32), nullable=False),
        sa.Column("passed", sa.Boolean, nullable=False),
        sa.Column("max_abs_err", sa.Float, nullable=True),
        sa.Column("max_rel_err", sa.Float, nullable=True),
        sa.Column("worst_index", sa.JSON, nullable=False),
        sa.Column("atol", sa.Float, nullable=False),
        sa.Column("rtol", sa.Float, nullable=False),
        sa.Column("checked", sa.Integer, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
    )
    op.create_index("ix_checks_case_verdict_id", "checks", ["case_verdict_id"])


def downgrade() -> None:
    op.drop_table("checks")
    op.drop_table("case_verdicts")
    op.drop_table("runs")
