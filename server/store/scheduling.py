"""Store side of the scheduling features: per-key and borrowed counts, the
stored state of the rate limit and circuit breaker, and breaker attempts.

Claims call these under the pool row lock (on PostgreSQL), so the counts and
the state they read are those of the last committed claim of the pool.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import (
    BigInteger,
    Connection,
    Row,
    case,
    cast,
    delete,
    func,
    insert,
    select,
    update,
)

from workpool_server.engine.gates import (
    BreakerState,
    Bucket,
    ProbeOutcome,
    advance_breaker,
    counting_window_start,
)
from workpool_server.engine.model import (
    CircuitBreaker,
    CircuitState,
    Lane,
    PoolSettings,
    RateLimit,
    WorkState,
)
from workpool_server.store.schema import breaker_attempts, pools, work

# Pools

_RUNNING_NORMAL = (work.c.state == WorkState.RUNNING, work.c.lane == Lane.NORMAL)


def scheduling_from_row(row: Row) -> dict:
    """Return the PoolSettings fields of the scheduling columns of a pool row."""
    rate_limit = None
    if row.rate_per_second is not None:
        rate_limit = RateLimit(row.rate_per_second, row.rate_burst or 1)
    breaker = None
    if row.breaker_failure_rate is not None:
        breaker = CircuitBreaker(
            failure_rate=row.breaker_failure_rate,
            window_us=row.breaker_window_us,
            min_attempts=row.breaker_min_attempts,
            cool_down_us=row.breaker_cool_down_us,
        )
    return {
        "max_per_key": row.max_per_key,
        "priority_aging_us": row.priority_aging_us,
        "rate_limit": rate_limit,
        "default_attempt_timeout_us": row.default_attempt_timeout_us,
        "circuit_breaker": breaker,
        "parent": row.parent,
    }


def scheduling_values(settings: PoolSettings) -> dict:
    """Return the scheduling columns of a pool row, without the gate state."""
    rate = settings.rate_limit
    breaker = settings.circuit_breaker
    return {
        "max_per_key": settings.max_per_key,
        "priority_aging_us": settings.priority_aging_us,
        "rate_per_second": rate.per_second if rate else None,
        "rate_burst": rate.burst if rate else None,
        "default_attempt_timeout_us": settings.default_attempt_timeout_us,
        "breaker_failure_rate": breaker.failure_rate if breaker else None,
        "breaker_window_us": breaker.window_us if breaker else None,
        "breaker_min_attempts": breaker.min_attempts if breaker else None,
        "breaker_cool_down_us": breaker.cool_down_us if breaker else None,
        "parent": settings.parent,
    }


def reset_gates(
    connection: Connection, old: PoolSettings, new: PoolSettings, now_us: int
) -> None:
    """Restart the state of a changed rate limit or breaker, and re-rank
    pending items when the priority aging changed.

    A pending item's rank is computed with the aging in force when it became
    ready, so a new aging applies to every waiting item at once.
    """
    name = new.name
    if old.rate_limit != new.rate_limit:
        connection.execute(
            update(pools)
            .where(pools.c.name == name)
            .values(rate_tokens=None, rate_refilled_at_us=None)
        )
    if old.circuit_breaker != new.circuit_breaker:
        connection.execute(
            update(pools)
            .where(pools.c.name == name)
            .values(
                breaker_state=None,
                breaker_open_until_us=None,
                breaker_counted_from_us=now_us,
                breaker_probe_work_id=None,
                breaker_probe_attempt=None,
            )
        )
        connection.execute(
            delete(breaker_attempts).where(breaker_attempts.c.pool == name)
        )
    if old.priority_aging_us != new.priority_aging_us:
        connection.execute(
            update(work)
            .where(work.c.pool == name, work.c.state == WorkState.PENDING)
            .values(
                rank_us=work.c.ready_at_us
                - cast(work.c.priority, BigInteger) * new.priority_aging_us
            )
        )


def children(connection: Connection, name: str) -> list[str]:
    return list(
        connection.execute(
            select(pools.c.name).where(pools.c.parent == name).order_by(pools.c.name)
        ).scalars()
    )


def parent_problem(connection: Connection, settings: PoolSettings) -> str | None:
    """Describe why the pool's parent is invalid, or return None."""
    if settings.parent is None:
        return None
    parent = connection.execute(
        select(pools.c.name, pools.c.parent).where(pools.c.name == settings.parent)
    ).first()
    if parent is None:
        return f"pool {settings.parent!r} not found: create the parent pool first"
    if parent.parent is not None:
        return (
            f"pool {settings.parent!r} has the parent {parent.parent!r}, and parents "
            "do not chain: name a pool without a parent"
        )
    lenders = children(connection, settings.name)
    if lenders:
        return (
            f"pool {settings.name!r} is the parent of {', '.join(lenders)}, and "
            "parents do not chain: remove those pools' parent first"
        )
    return None


# Running counts


def own_running(connection: Connection, pool_name: str) -> int:
    """Count the pool's running items on its own slots, borrowed ones aside."""
    return connection.execute(
        select(func.count()).where(
            work.c.pool == pool_name,
            *_RUNNING_NORMAL,
            work.c.borrowed_from.is_(None),
        )
    ).scalar_one()


def lent_running(connection: Connection, pool_name: str) -> int:
    """Count the running items of other pools on this pool's slots."""
    return connection.execute(
        select(func.count()).where(
            work.c.borrowed_from == pool_name, work.c.state == WorkState.RUNNING
        )
    ).scalar_one()


def borrowed_running(connection: Connection, pool_name: str) -> int:
    """Count the pool's running items on slots borrowed from its parent."""
    return connection.execute(
        select(func.count()).where(
            work.c.pool == pool_name,
            *_RUNNING_NORMAL,
            work.c.borrowed_from.is_not(None),
        )
    ).scalar_one()


def running_by_key(connection: Connection, pool_name: str) -> dict[str, int]:
    rows = connection.execute(
        select(work.c.concurrency_key, func.count())
        .where(
            work.c.pool == pool_name,
            *_RUNNING_NORMAL,
            work.c.concurrency_key.is_not(None),
        )
        .group_by(work.c.concurrency_key)
    )
    return {key: count for key, count in rows}


def running_ids_of_key(
    connection: Connection, pool_name: str, key: str, limit: int
) -> list[str]:
    return list(
        connection.execute(
            select(work.c.id)
            .where(
                work.c.pool == pool_name,
                *_RUNNING_NORMAL,
                work.c.concurrency_key == key,
            )
            .order_by(work.c.seq)
            .limit(limit)
        ).scalars()
    )


def has_ready_normal(
    connection: Connection, pool_name: str, now_us: int, functions: Iterable[str] | None
) -> bool:
    """Return whether the pool has a normal item ready now, for `functions`
    when given."""
    query = select(work.c.seq).where(
        work.c.pool == pool_name,
        work.c.lane == Lane.NORMAL,
        work.c.state == WorkState.PENDING,
        work.c.ready_at_us <= now_us,
    )
    if functions is not None:
        query = query.where(work.c.function.in_(sorted(functions)))
    return connection.execute(query.limit(1)).first() is not None


# Rate limit and circuit breaker state


def stored_bucket(row: Row) -> Bucket | None:
    if row.rate_tokens is None or row.rate_refilled_at_us is None:
        return None
    return Bucket(row.rate_tokens, row.rate_refilled_at_us)


def stored_breaker(row: Row) -> BreakerState:
    return BreakerState(
        state=CircuitState(row.breaker_state or CircuitState.CLOSED),
        open_until_us=row.breaker_open_until_us,
        counted_from_us=row.breaker_counted_from_us,
        probe_work_id=row.breaker_probe_work_id,
        probe_attempt=row.breaker_probe_attempt,
    )


def current_breaker(
    connection: Connection, breaker: CircuitBreaker, row: Row, now_us: int
) -> BreakerState:
    """Read the breaker's attempts and return its state at `now_us`."""
    state = stored_breaker(row)
    start = counting_window_start(breaker, state, now_us)
    ended, failed = connection.execute(
        select(
            func.count(),
            func.coalesce(func.sum(case((breaker_attempts.c.failed, 1), else_=0)), 0),
        ).where(
            breaker_attempts.c.pool == row.name,
            breaker_attempts.c.ended_at_us >= start,
        )
    ).one()
    return advance_breaker(
        breaker,
        state,
        now_us,
        ended,
        int(failed),
        _probe_outcome(connection, row, state),
    )


def _probe_outcome(
    connection: Connection, row: Row, state: BreakerState
) -> ProbeOutcome | None:
    if state.probe_work_id is None:
        return None
    failed = connection.execute(
        select(breaker_attempts.c.failed).where(
            breaker_attempts.c.pool == row.name,
            breaker_attempts.c.work_id == state.probe_work_id,
            breaker_attempts.c.attempt == state.probe_attempt,
        )
    ).scalar()
    running = connection.execute(
        select(work.c.seq).where(
            work.c.id == state.probe_work_id,
            work.c.state == WorkState.RUNNING,
            work.c.attempt == state.probe_attempt,
        )
    ).first()
    return ProbeOutcome(
        running=running is not None, failed=None if failed is None else bool(failed)
    )


def save_gates(
    connection: Connection,
    pool_name: str,
    bucket: Bucket | None,
    breaker: BreakerState | None,
) -> None:
    values: dict = {}
    if bucket is not None:
        values.update(
            rate_tokens=bucket.tokens, rate_refilled_at_us=bucket.refilled_at_us
        )
    if breaker is not None:
        values.update(
            breaker_state=breaker.state,
            breaker_open_until_us=breaker.open_until_us,
            breaker_counted_from_us=breaker.counted_from_us,
            breaker_probe_work_id=breaker.probe_work_id,
            breaker_probe_attempt=breaker.probe_attempt,
        )
    if values:
        connection.execute(
            update(pools).where(pools.c.name == pool_name).values(**values)
        )


def record_breaker_attempt(
    connection: Connection, row: Row, ended_at_us: int, failed: bool
) -> None:
    connection.execute(
        insert(breaker_attempts).values(
            pool=row.pool,
            work_id=row.id,
            attempt=row.attempt,
            ended_at_us=ended_at_us,
            failed=failed,
        )
    )


def prune_breaker_attempts(
    connection: Connection,
    pool_name: str,
    breaker: CircuitBreaker,
    state: BreakerState,
    now_us: int,
) -> None:
    """Delete attempts that no longer count, keeping the probe's."""
    start = counting_window_start(breaker, state, now_us)
    query = delete(breaker_attempts).where(
        breaker_attempts.c.pool == pool_name, breaker_attempts.c.ended_at_us < start
    )
    if state.probe_work_id is not None:
        query = query.where(breaker_attempts.c.work_id != state.probe_work_id)
    connection.execute(query)
