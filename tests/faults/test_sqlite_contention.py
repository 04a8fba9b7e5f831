"""Another process holding SQLite's write lock: calls wait, or fail retryably."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from datetime import timedelta

import pytest

import workpool

pytestmark = pytest.mark.faults


def _hold_write_lock(path: str, seconds: float, locked: threading.Event) -> None:
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        locked.set()
        threading.Event().wait(seconds)
        connection.execute("COMMIT")
    finally:
        connection.close()


async def _lock_for(path: str, seconds: float) -> asyncio.Future:
    locked = threading.Event()
    holder = asyncio.get_running_loop().run_in_executor(
        None, _hold_write_lock, path, seconds, locked
    )
    await asyncio.to_thread(locked.wait, 5)
    return holder


@pytest.fixture
def sqlite_only(database_engine) -> None:
    if database_engine != "sqlite":
        pytest.skip("the write lock of another process is a SQLite matter")


async def test_write_waits_for_short_lock(sqlite_only, make_server, tmp_path):
    server = await make_server(sqlite_busy_timeout_us=5_000_000)
    async with workpool.AsyncClient(f"127.0.0.1:{server.port}") as client:
        await client.create_pool("locked")

        holder = await _lock_for(str(tmp_path / "workpool.db"), seconds=1.0)
        work_id = await client.enqueue("locked", "job")
        await holder

        status = await client.status(work_id)

    assert status.state is workpool.WorkState.PENDING


async def test_long_lock_fails_retryably_then_recovers(
    sqlite_only, make_server, tmp_path
):
    server = await make_server(sqlite_busy_timeout_us=300_000)
    async with workpool.AsyncClient(
        f"127.0.0.1:{server.port}", timeout=timedelta(seconds=10)
    ) as client:
        await client.create_pool("locked")

        holder = await _lock_for(str(tmp_path / "workpool.db"), seconds=2.0)
        with pytest.raises(workpool.UnavailableError) as caught:
            await client.enqueue("locked", "job")
        # Reads do not wait for the write lock in WAL mode.
        pool = await client.get_pool("locked")
        await holder

        work_id = await client.enqueue("locked", "job")
        status = await client.status(work_id)

    assert "database is busy" in str(caught.value)
    assert pool.name == "locked"
    assert status.state is workpool.WorkState.PENDING
