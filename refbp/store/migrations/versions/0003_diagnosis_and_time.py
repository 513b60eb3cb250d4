"""What a stored run's page shows beyond the rows of 0001/0002: each case's title, its norms
through time (an RNN's ||dE/dh_t||, drawn on /runs/{id}) and where a failed answer first
departs from the reference; each failed row's diagnosis; each finite-difference row's entries
at a kink, its step and its error estimate. All nullable: a run stored before has none of them.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("case_verdicts") as batch:
        batch.add_column(sa.Column("title", sa.Text, nullable=True))
        batch.add_column(sa.Column("through_time", sa.JSON, nullable=True))
        batch.add_column(sa.Column("first_departure", sa.Text, nullable=True))
    with op.batch_alter_table("checks") as batch:
        batch.add_column(sa.Column("diagnosis", sa.String(64), nullable=True))
        batch.add_column(sa.Column("diagnosis_note", sa.Text, nullable=True))
        batch.add_column(sa.Column("nondifferentiable", sa.Integer, nullable=True))
        batch.add_column(sa.Column("step", sa.Float, nullable=True))
        batch.add_column(sa.Column("error_estimate", sa.Float, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("checks") as batch:
        for column in ("error_estimate", "step", "nondifferentiable", "diagnosis_note", "diagnosis"):
            batch.drop_column(column)
    with op.batch_alter_table("case_verdicts") as batch:
        for column in ("first_departure", "through_time", "title"):
            batch.drop_column(column)
