"""The two values at each check row's worst entry (the implementation's and the reference's),
so that a stored run's page shows a failure's numbers in full, as the run's report.html does.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("checks") as batch:
        batch.add_column(sa.Column("actual", sa.Float, nullable=True))
        batch.add_column(sa.Column("expected_value", sa.Float, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("checks") as batch:
        batch.drop_column("expected_value")
        batch.drop_column("actual")
