"""Alembic environment: runs on the connection the server passes in."""

from alembic import context

from workpool_server.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata)
with context.begin_transaction():
    context.run_migrations()
