"""Connections, migrations and the group-commit writer."""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Connection, Engine, Transaction, create_engine, event
from sqlalchemy.exc import OperationalError

from workpool_server.errors import UnavailableError, WorkpoolError

logger = logging.getLogger(__name__)

_MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"

# Operations one transaction may group. Larger groups amortize the commit
# further but delay the first caller in the group.
MAX_GROUP = 512

# SQLite waits this long by default for a lock held by another process before
# it raises "database is locked", which callers then get as UNAVAILABLE.
SQLITE_BUSY_TIMEOUT_MS = 30_000


# PostgreSQL errors after which the whole transaction may simply run again:
# deadlock_detected and serialization_failure.
_RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})
MAX_TRANSACTION_TRIES = 5


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def sqlalchemy_url(url: str) -> str:
    """Select the psycopg 3 driver for a plain postgresql:// URL."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def is_retryable(error: BaseException) -> bool:
    original = getattr(error, "orig", None)
    return getattr(original, "sqlstate", None) in _RETRYABLE_SQLSTATES


def _configure_sqlite(
    engine: Engine, *, writer: bool, synchronous: str, busy_timeout_ms: int
) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself, so the writer can
        # take the write lock up front with BEGIN IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writer else "BEGIN")


def create_engines(
    url: str,
    *,
    sqlite_synchronous: str = "FULL",
    sqlite_busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS,
) -> tuple[Engine, Engine]:
    """Create the writer engine (one connection) and the reader engine."""
    if is_sqlite(url):
        writer = create_engine(url, pool_size=1, max_overflow=0)
        reader = create_engine(url, pool_size=4, max_overflow=4)
        for engine, is_writer in ((writer, True), (reader, False)):
            _configure_sqlite(
                engine,
                writer=is_writer,
                synchronous=sqlite_synchronous,
                busy_timeout_ms=sqlite_busy_timeout_ms,
            )
        return writer, reader

    url = sqlalchemy_url(url)
    writer = create_engine(url, pool_size=1, max_overflow=0, pool_pre_ping=True)
    reader = create_engine(url, pool_size=4, max_overflow=4, pool_pre_ping=True)
    return writer, reader


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision."""
    config = AlembicConfig()
    config.set_main_option("script_location", str(_MIGRATIONS))
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Replicas that start together would otherwise race to create
            # the same tables.
            connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7250001)")
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


@dataclass
class _Operation:
    function: Callable[[Connection], Any]
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop
    on_commit: Callable[[Any], Any] | None = None


class _Stop:
    pass


class Writer:
    """Run write operations in one thread, many per transaction.

    Each operation runs inside its own savepoint, so a WorkpoolError raised
    by one (a missing pool, say) rolls back only that operation. An error at
    commit fails every operation of the group.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._queue: queue.SimpleQueue[_Operation | _Stop] = queue.SimpleQueue()
        self._thread = threading.Thread(
            target=self._run, name="workpool-writer", daemon=True
        )
        self._started = False

    def start(self) -> None:
        self._started = True
        self._thread.start()

    @property
    def queued(self) -> int:
        """Operations waiting for the writer thread, not counting the group it
        is running."""
        return self._queue.qsize()

    async def run(
        self,
        function: Callable[[Connection], Any],
        on_commit: Callable[[Any], Any] | None = None,
    ) -> Any:
        """Run `function` in a write transaction and return its value.

        `on_commit` runs on the event loop once the transaction commits, in
        commit order, even when the caller was cancelled meanwhile. Its return
        value becomes the result.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.put(_Operation(function, future, loop, on_commit))
        return await future

    def stop(self) -> None:
        if self._started:
            self._queue.put(_Stop())
            self._thread.join()
            self._started = False

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if isinstance(first, _Stop):
                break
            group = [first]
            while len(group) < MAX_GROUP:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if isinstance(item, _Stop):
                    stopping = True
                    break
                group.append(item)
            self._run_group(group)

    def _run_group(self, group: list[_Operation]) -> None:
        for attempt in range(1, MAX_TRANSACTION_TRIES + 1):
            try:
                outcomes = self._try_group(group)
            except Exception as error:
                if is_retryable(error) and attempt < MAX_TRANSACTION_TRIES:
                    logger.info(
                        "write transaction retried",
                        extra={"event": "write_retried", "attempt": attempt},
                    )
                    continue
                self._fail_group(group, error)
                return
            _resolve_all(group, outcomes)
            return

    def _try_group(self, group: list[_Operation]) -> list[tuple[bool, Any]]:
        with self._engine.connect() as connection:
            if len(group) == 1:
                # Rolling back the transaction of a group of one undoes the
                # same as a savepoint would, with two statements fewer.
                transaction = connection.begin()
                outcome = self._run_one(connection, transaction, group[0])
                if outcome[0]:
                    transaction.commit()
                return [outcome]

            outcomes: list[tuple[bool, Any]] = []
            with connection.begin():
                for operation in group:
                    savepoint = connection.begin_nested()
                    outcome = self._run_one(connection, savepoint, operation)
                    if outcome[0]:
                        savepoint.commit()
                    outcomes.append(outcome)
            return outcomes

    def _fail_group(self, group: list[_Operation], error: Exception) -> None:
        logger.error(
            "write transaction failed",
            extra={"event": "write_failed", "operations": len(group)},
            exc_info=error,
        )
        if isinstance(error, OperationalError):
            # Lock time-outs and lost connections pass; the caller may retry.
            error = UnavailableError(
                "the database is busy or unreachable: retry the call"
            )
        _resolve_all(group, [(False, error)] * len(group))

    @staticmethod
    def _run_one(
        connection: Connection, transaction: Transaction, operation: _Operation
    ) -> tuple[bool, Any]:
        """Run one operation, rolling back `transaction` if it raises."""
        try:
            value = operation.function(connection)
        except WorkpoolError as error:
            transaction.rollback()
            return False, error
        except Exception as error:  # noqa: BLE001 - isolate one broken operation
            transaction.rollback()
            if is_retryable(error):
                raise
            logger.error(
                "write operation failed",
                extra={"event": "write_operation_failed"},
                exc_info=True,
            )
            return False, error
        return True, value


def _resolve_all(group: list[_Operation], outcomes: list[tuple[bool, Any]]) -> None:
    """Hand each operation's outcome to its event loop, in commit order.

    One callback per loop carries the whole group, because each cross-thread
    call writes to the loop's self-pipe, a system call per operation when
    every operation had its own callback.
    """
    by_loop: dict[asyncio.AbstractEventLoop, list] = {}
    for operation, (ok, value) in zip(group, outcomes, strict=True):
        by_loop.setdefault(operation.loop, []).append((operation, ok, value))
    for loop, resolutions in by_loop.items():
        loop.call_soon_threadsafe(_apply_resolutions, resolutions)


def _apply_resolutions(resolutions: list[tuple[_Operation, bool, Any]]) -> None:
    for operation, ok, value in resolutions:
        _apply_resolution(operation, ok, value)


def _apply_resolution(operation: _Operation, ok: bool, value: Any) -> None:
    result = value
    if ok and operation.on_commit is not None:
        try:
            result = operation.on_commit(value)
        except Exception as error:  # noqa: BLE001 - reported to the caller
            logger.error(
                "post-commit step failed",
                extra={"event": "on_commit_failed"},
                exc_info=True,
            )
            if not operation.future.done():
                operation.future.set_exception(error)
            return
    if operation.future.done():
        return
    if ok:
        operation.future.set_result(result)
    else:
        operation.future.set_exception(value)
