"""The group-commit writer on a real SQLite file: one failing operation rolls
back its own writes only, alone or in a group."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, text

from workpool_server.errors import invalid
from workpool_server.store.database import Writer, create_engines


@pytest.fixture
def writer(tmp_path: Path) -> Iterator[Writer]:
    engine, _reader = create_engines(f"sqlite:///{tmp_path / 'writer.db'}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE notes (body TEXT NOT NULL)"))
    writer = Writer(engine)
    yield writer
    writer.stop()
    engine.dispose()


def insert(body: str, error: Exception | None = None):
    def operation(connection: Connection) -> str:
        connection.execute(text("INSERT INTO notes VALUES (:body)"), {"body": body})
        if error is not None:
            raise error
        return body

    return operation


def stored(writer: Writer) -> list[str]:
    with writer._engine.connect() as connection:
        rows = connection.execute(text("SELECT body FROM notes ORDER BY body"))
        return [row.body for row in rows]


@pytest.mark.parametrize(
    "error", [invalid("body", "is rejected"), RuntimeError("broken operation")]
)
async def test_failing_operation_alone_rolled_back(writer, error):
    writer.start()

    with pytest.raises(type(error)):
        await writer.run(insert("failed", error))
    assert await writer.run(insert("kept")) == "kept"

    assert stored(writer) == ["kept"]


@pytest.mark.parametrize(
    "error", [invalid("body", "is rejected"), RuntimeError("broken operation")]
)
async def test_failing_operation_in_group_rolled_back(writer, error):
    # Operations queued before the thread starts run as one group.
    calls = [
        asyncio.create_task(writer.run(insert("first"))),
        asyncio.create_task(writer.run(insert("failed", error))),
        asyncio.create_task(writer.run(insert("last"))),
    ]
    await asyncio.sleep(0)
    writer.start()
    outcomes = await asyncio.gather(*calls, return_exceptions=True)

    assert outcomes[0] == "first"
    assert outcomes[1] is error
    assert outcomes[2] == "last"
    assert stored(writer) == ["first", "last"]
