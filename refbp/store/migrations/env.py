"""Alembic's entry point for the verdict store: runs the migrations on the connection that
`refbp.store.database` hands over (there is no alembic.ini; the store upgrades itself)."""

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=None)
with context.begin_transaction():
    context.run_migrations()
