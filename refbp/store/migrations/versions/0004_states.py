"""The three verdict states (docs/formats.md section 4): per case its state (pass, fail,
inconclusive) and its entries no reference could judge to the accuracy needed; per check row
its state, its inconclusive entries and the convention its entries at non-smooth points
matched; per run its inconclusive cases. All nullable: a run stored before has none of them
(its states are read from `passed`: pass or fail).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("inconclusive_cases", sa.Integer, nullable=True))
    with op.batch_alter_table("case_verdicts") as batch:
        batch.add_column(sa.Column("state", sa.String(16), nullable=True))
        batch.add_column(sa.Column("inconclusive", sa.Integer, nullable=True))
    with op.batch_alter_table("checks") as batch:
        batch.add_column(sa.Column("state", sa.String(16), nullable=True))
        batch.add_column(sa.Column("inconclusive", sa.Integer, nullable=True))
        batch.add_column(sa.Column("convention", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("checks") as batch:
        for column in ("convention", "inconclusive", "state"):
            batch.drop_column(column)
    with op.batch_alter_table("case_verdicts") as batch:
        for column in ("inconclusive", "state"):
            batch.drop_column(column)
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("inconclusive_cases")
