"""What a bounded service needs of the store: an index on the runs' start time (the newest runs,
and a page of them, are read from the index, not by sorting every run), and the answers of
requests that carried an `Idempotency-Key` (a retry gets the first answer, not a second run).

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_runs_started_id", "runs", ["started", "id"])
    op.create_table(
        "idempotency",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
        # sha256 of the request (its query and body): the same key with another request is refused.
        sa.Column("request_digest", sa.String(64), nullable=False),
        sa.Column("answer", sa.Text, nullable=False),  # the JSON answered the first time
        sa.Column("created", sa.String(32), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("idempotency")
    op.drop_index("ix_runs_started_id", "runs")
