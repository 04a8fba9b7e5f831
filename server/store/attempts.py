"""Attempt history and stored trace contexts, read and written inside the
engine's transactions (see queries.py for the transaction rules)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, bindparam, delete, insert, select, update

from workpool_server.engine.model import AttemptOutcome, AttemptView
from workpool_server.limits import MAX_WORKER_NAME
from workpool_server.store.schema import attempts, work


def record_starts(
    connection: Connection, started: Sequence[tuple[str, int, str, str]], now_us: int
) -> None:
    """Insert one running attempt per (work_id, attempt, worker_id, worker_name)."""
    if not started:
        return
    rows = [
        {
            "work_id": work_id,
            "attempt": attempt,
            "worker_id": worker_id,
            # The server uses the peer address when a worker sends no name,
            # and that address has no length check of its own.
            "worker_name": worker_name[:MAX_WORKER_NAME],
            "started_at_us": now_us,
        }
        for work_id, attempt, worker_id, worker_name in started
    ]
    connection.execute(insert(attempts), rows)


def attempt_end(
    work_id: str, attempt: int, outcome: AttemptOutcome, error: str, now_us: int
) -> dict:
    """Return the parameters of `record_ends` for one attempt."""
    return {
        "key_work_id": work_id,
        "key_attempt": attempt,
        "ended_at_us": now_us,
        "outcome": outcome,
        "error": error.encode("utf-8", "surrogatepass") if error else None,
    }


# One statement for every attempt a transaction ends, run as executemany.
_RECORD_END = (
    update(attempts)
    .where(
        attempts.c.work_id == bindparam("key_work_id"),
        attempts.c.attempt == bindparam("key_attempt"),
    )
    .values(
        ended_at_us=bindparam("ended_at_us"),
        outcome=bindparam("outcome"),
        error=bindparam("error"),
    )
)


def record_ends(connection: Connection, ends: Sequence[dict]) -> None:
    """Set how running attempts ended, from `attempt_end` parameters."""
    connection.execute(_RECORD_END, list(ends))


def delete_for_work(connection: Connection, work_ids: Sequence[str]) -> None:
    if work_ids:
        connection.execute(delete(attempts).where(attempts.c.work_id.in_(work_ids)))


def delete_for_pool(connection: Connection, pool: str) -> None:
    pool_work_ids = select(work.c.id).where(work.c.pool == pool)
    connection.execute(delete(attempts).where(attempts.c.work_id.in_(pool_work_ids)))


def read_attempts(connection: Connection, work_id: str) -> list[AttemptView]:
    """Return the attempts of one item, oldest first."""
    rows = connection.execute(
        select(attempts)
        .where(attempts.c.work_id == work_id)
        .order_by(attempts.c.attempt)
    )
    return [
        AttemptView(
            work_id=row.work_id,
            attempt=row.attempt,
            worker_id=row.worker_id,
            worker_name=row.worker_name,
            started_at_us=row.started_at_us,
            ended_at_us=row.ended_at_us,
            outcome=None if row.outcome is None else AttemptOutcome(row.outcome),
            error=row.error.decode("utf-8", "surrogatepass") if row.error else "",
        )
        for row in rows
    ]


def read_trace_contexts(
    connection: Connection, work_ids: Sequence[str]
) -> dict[str, str]:
    """Return the stored trace context of each item that has one."""
    if not work_ids:
        return {}
    rows = connection.execute(
        select(work.c.id, work.c.trace_context).where(
            work.c.id.in_(work_ids), work.c.trace_context.is_not(None)
        )
    )
    return {work_id: context for work_id, context in rows}
