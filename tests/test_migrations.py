"""The Alembic migrations create exactly the schema the code declares."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from workpool_server.store.database import migrate, sqlalchemy_url
from workpool_server.store.schema import metadata


async def test_migrations_match_schema(make_server):
    server = await make_server()
    engine = create_engine(sqlalchemy_url(server.config.database_url))
    try:
        # Running the migrations again on a migrated database changes nothing.
        migrate(engine)
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True}
            )
            differences = compare_metadata(context, metadata)
    finally:
        engine.dispose()

    assert differences == []
