"""Transactions of the engine, written once for SQLite and PostgreSQL.

Every function here runs inside a transaction opened by the caller: the
writer's for changes, a reader's for lookups. Functions that change state
record what must happen after the commit (completions to publish, cancel
requests to send) in `Tx.effects`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection, Row, delete, func, insert, select, update

from workpool_server.engine.model import (
    Assignment,
    AttemptOutcome,
    AttemptReport,
    CancelNotice,
    CancelOutcome,
    CompletionRecord,
    Effects,
    Lane,
    NewWork,
    Outcome,
    PoolSettings,
    ResultAck,
    ResultKind,
    RetryPolicy,
    WorkState,
    WorkStatusView,
)
from workpool_server.engine.retry import backoff_us, resolve_policy
from workpool_server.errors import (
    AlreadyExistsError,
    FailedPreconditionError,
    NotFoundError,
)
from workpool_server.ids import WorkIdGenerator
from workpool_server.store import attempts as attempt_history
from workpool_server.store.schema import (
    COMPLETION_SEQUENCE,
    completions,
    counters,
    pools,
    work,
)

WORKER_LOST = "worker lost: the worker stream closed before it reported a result"
LEASE_EXPIRED = "lease expired: the worker sent no heartbeat within the lease"

# Follow-up args are built by the API layer, which owns the wire format.
FollowUpArgsBuilder = Callable[[str, bytes | None, Outcome], bytes]

_STATUS_COLUMNS = (
    work.c.seq,
    work.c.id,
    work.c.pool,
    work.c.function,
    work.c.state,
    work.c.lane,
    work.c.attempt,
    work.c.ready_at_us,
    work.c.enqueued_at_us,
    work.c.started_at_us,
    work.c.max_attempts,
    work.c.initial_backoff_us,
    work.c.backoff_base,
    work.c.max_backoff_us,
    work.c.on_complete_function,
    work.c.on_complete_context,
    work.c.lease_owner,
    work.c.cancel_requested,
    work.c.last_error,
    work.c.result_kind,
    work.c.return_value,
    work.c.non_retryable,
    work.c.finished_at_us,
)


@dataclass
class Tx:
    """One transaction's connection, time, jitter source and effects."""

    connection: Connection
    now_us: int
    random: Callable[[], float]
    build_follow_up_args: FollowUpArgsBuilder
    ids: WorkIdGenerator
    lock_rows: bool = False
    effects: Effects = field(default_factory=Effects)
    _pools: dict[str, PoolSettings] = field(default_factory=dict)
    _new_completions: list[dict] = field(default_factory=list)
    _attempt_ends: list[dict] = field(default_factory=list)

    def pool(self, name: str) -> PoolSettings | None:
        if name not in self._pools:
            row = self.connection.execute(
                select(pools).where(pools.c.name == name)
            ).first()
            if row is None:
                return None
            self._pools[name] = pool_from_row(row)
        return self._pools[name]

    def flush(self) -> None:
        """Write the attempt ends and completion-log entries gathered by this
        transaction."""
        if self._attempt_ends:
            attempt_history.record_ends(self.connection, self._attempt_ends)
            self._attempt_ends.clear()
        if not self._new_completions:
            return
        count = len(self._new_completions)
        last = self.connection.execute(
            update(counters)
            .where(counters.c.name == COMPLETION_SEQUENCE)
            .values(value=counters.c.value + count)
            .returning(counters.c.value)
        ).scalar_one()
        first = last - count + 1
        for offset, entry in enumerate(self._new_completions):
            entry["sequence"] = first + offset
        self.connection.execute(insert(completions), self._new_completions)
        for entry in self._new_completions:
            self.effects.completions.append(completion_from_mapping(entry))
        self._new_completions.clear()


# Pools


def pool_from_row(row: Row) -> PoolSettings:
    return PoolSettings(
        name=row.name,
        max_parallelism=row.max_parallelism,
        retry_by_default=row.retry_by_default,
        default_retry=RetryPolicy(
            max_attempts=row.retry_max_attempts,
            initial_backoff_us=row.retry_initial_backoff_us,
            base=row.retry_base,
            max_backoff_us=row.retry_max_backoff_us,
        ),
        status_ttl_us=row.status_ttl_us,
    )


def _pool_values(settings: PoolSettings) -> dict:
    return {
        "max_parallelism": settings.max_parallelism,
        "retry_by_default": settings.retry_by_default,
        "retry_max_attempts": settings.default_retry.max_attempts,
        "retry_initial_backoff_us": settings.default_retry.initial_backoff_us,
        "retry_base": settings.default_retry.base,
        "retry_max_backoff_us": settings.default_retry.max_backoff_us,
        "status_ttl_us": settings.status_ttl_us,
    }


def create_pool(connection: Connection, settings: PoolSettings, now_us: int) -> None:
    exists = connection.execute(
        select(pools.c.name).where(pools.c.name == settings.name)
    ).first()
    if exists is not None:
        raise AlreadyExistsError(f"pool {settings.name!r} already exists")
    connection.execute(
        insert(pools).values(
            name=settings.name,
            created_at_us=now_us,
            updated_at_us=now_us,
            **_pool_values(settings),
        )
    )


def put_pool(connection: Connection, settings: PoolSettings, now_us: int) -> None:
    """Create the pool or overwrite its settings."""
    updated = connection.execute(
        update(pools)
        .where(pools.c.name == settings.name)
        .values(updated_at_us=now_us, **_pool_values(settings))
    ).rowcount
    if not updated:
        create_pool(connection, settings, now_us)


def get_pool(connection: Connection, name: str) -> PoolSettings:
    row = connection.execute(select(pools).where(pools.c.name == name)).first()
    if row is None:
        raise NotFoundError(pool_not_found_message(name))
    return pool_from_row(row)


def pool_not_found_message(name: str) -> str:
    return (
        f"pool {name!r} not found: create it with PoolService.CreatePool, "
        "`workpool pools create`, or the server's config file"
    )


def list_pools(connection: Connection, after: str, limit: int) -> list[PoolSettings]:
    rows = connection.execute(
        select(pools).where(pools.c.name > after).order_by(pools.c.name).limit(limit)
    )
    return [pool_from_row(row) for row in rows]


def existing_pools(connection: Connection, names: Sequence[str]) -> set[str]:
    rows = connection.execute(select(pools.c.name).where(pools.c.name.in_(names)))
    return set(rows.scalars())


def pool_stats(connection: Connection, name: str) -> tuple[int, int]:
    """Return (pending, running) counts of one pool."""
    rows = connection.execute(
        select(work.c.state, func.count())
        .where(work.c.pool == name, work.c.state.in_([1, 2]))
        .group_by(work.c.state)
    )
    counts = {state: count for state, count in rows}
    return counts.get(WorkState.PENDING, 0), counts.get(WorkState.RUNNING, 0)


def delete_pool(connection: Connection, name: str) -> None:
    get_pool(connection, name)
    pending, running = pool_stats(connection, name)
    if pending or running:
        raise FailedPreconditionError(
            f"pool {name!r} has {pending} pending and {running} running items: "
            "cancel them with CancelAll and wait for them to finish first"
        )
    attempt_history.delete_for_pool(connection, name)
    connection.execute(delete(work).where(work.c.pool == name))
    connection.execute(delete(pools).where(pools.c.name == name))


# Enqueue


def database_now_us(connection: Connection) -> int:
    """Return PostgreSQL's current time in microseconds since the epoch."""
    return connection.exec_driver_sql(
        "SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint"
    ).scalar_one()


def notify(connection: Connection, channel: str, payload: str) -> None:
    """Queue a PostgreSQL notification, delivered when the transaction commits."""
    connection.execute(select(func.pg_notify(channel, payload)))


def head_sequence(connection: Connection) -> int:
    return connection.execute(
        select(counters.c.value).where(counters.c.name == COMPLETION_SEQUENCE)
    ).scalar_one()


def enqueue(tx: Tx, pool_name: str, items: Sequence[NewWork]) -> list[tuple[str, bool]]:
    """Insert items all or none; return (work_id, deduplicated) per item."""
    settings = tx.pool(pool_name)
    if settings is None:
        raise NotFoundError(pool_not_found_message(pool_name))

    existing = _existing_keys(tx, pool_name, items)
    results: list[tuple[str, bool]] = []
    rows: list[dict] = []
    for item in items:
        key = item.idempotency_key
        if key is not None and key in existing:
            results.append((existing[key], True))
            continue

        work_id = tx.ids.new_id(tx.now_us)
        if key is not None:
            existing[key] = work_id
        rows.append(_new_row(tx, settings, item, work_id))
        results.append((work_id, False))

    if rows:
        tx.connection.execute(insert(work), rows)
        tx.effects.count(tx.effects.enqueued, pool_name, len(rows))
        tx.effects.wake_dispatch = True
    return results


def _existing_keys(tx: Tx, pool_name: str, items: Sequence[NewWork]) -> dict[str, str]:
    keys = {item.idempotency_key for item in items if item.idempotency_key}
    if not keys:
        return {}
    rows = tx.connection.execute(
        select(work.c.idempotency_key, work.c.id).where(
            work.c.pool == pool_name, work.c.idempotency_key.in_(keys)
        )
    )
    return {key: work_id for key, work_id in rows}


def _new_row(tx: Tx, settings: PoolSettings, item: NewWork, work_id: str) -> dict:
    policy = resolve_policy(settings, item.retry_choice, item.custom_retry)
    ready_at = tx.now_us
    if item.run_at_us is not None:
        ready_at = max(item.run_at_us, tx.now_us)
    elif item.run_after_us is not None:
        ready_at = tx.now_us + item.run_after_us

    return {
        "id": work_id,
        "pool": settings.name,
        "function": item.function,
        "args": item.args,
        "state": WorkState.PENDING,
        "lane": Lane.NORMAL,
        "ready_at_us": ready_at,
        "enqueued_at_us": tx.now_us,
        "attempt": 0,
        "max_attempts": policy.max_attempts,
        "initial_backoff_us": policy.initial_backoff_us,
        "backoff_base": policy.base,
        "max_backoff_us": policy.max_backoff_us,
        "on_complete_function": item.on_complete_function,
        "on_complete_context": item.on_complete_context,
        "idempotency_key": item.idempotency_key,
        "cancel_requested": False,
        "trace_context": item.trace_context,
    }


# Dispatch


@dataclass(frozen=True)
class WorkerSlots:
    """A worker stream's free slots and what it serves, as of the claim."""

    owner: str
    credits: int
    pools: frozenset[str]
    functions: frozenset[str]
    name: str = ""


@dataclass
class _Candidate:
    seq: int
    work_id: str
    pool: str
    function: str
    lane: Lane
    attempt: int
    args: bytes
    ready_at_us: int


def claim(
    tx: Tx, workers: Sequence[WorkerSlots], lease_us: int, pool_order: Sequence[str]
) -> list[Assignment]:
    """Lease ready items to workers with free slots.

    Follow-ups come first and hold no slot; then each pool's items in FIFO
    order by ready time, up to its free parallelism. Pools take turns one
    item at a time, so a busy pool cannot starve a quiet one of worker
    slots.
    """
    candidates_by_pool: dict[str, list[_Candidate]] = {}
    free_slots: dict[str, int] = {}
    total_credits = sum(worker.credits for worker in workers)
    if tx.lock_rows and pool_order:
        # Lock in name order, so that replicas claiming at once cannot
        # deadlock on each other's pools.
        tx.connection.execute(
            select(pools.c.name)
            .where(pools.c.name.in_(pool_order))
            .order_by(pools.c.name)
            .with_for_update()
        ).all()
    for pool_name in pool_order:
        functions = frozenset().union(
            *(w.functions for w in workers if pool_name in w.pools and w.credits > 0)
        )
        if not functions:
            continue
        max_parallelism = _lock_pool(tx, pool_name)
        if max_parallelism is None:
            continue
        free = max(max_parallelism - _running_count(tx, pool_name), 0)
        free_slots[pool_name] = free
        follow_ups = _ready(tx, pool_name, functions, Lane.FOLLOW_UP, total_credits)
        normal = _ready(tx, pool_name, functions, Lane.NORMAL, min(free, total_credits))
        if follow_ups or normal:
            candidates_by_pool[pool_name] = follow_ups + normal

    credits = {worker.owner: worker.credits for worker in workers}
    chosen: list[tuple[_Candidate, str]] = []
    queues = {name: iter(items) for name, items in candidates_by_pool.items()}
    while queues and any(credits.values()):
        for pool_name in list(queues):
            picked = _next_assignable(queues, pool_name, workers, credits, free_slots)
            if picked is not None:
                chosen.append(picked)

    assignments = _lease(tx, chosen, lease_us)
    names = {worker.owner: worker.name for worker in workers}
    attempt_history.record_starts(
        tx.connection,
        [
            (a.work_id, a.attempt, a.lease_owner, names[a.lease_owner])
            for a in assignments
        ],
        tx.now_us,
    )
    return assignments


def _lock_pool(tx: Tx, pool_name: str) -> int | None:
    """Return the pool's max_parallelism, locking its row on PostgreSQL.

    The lock makes claims of one pool take turns across replicas, so each
    claim counts the running items after the previous claim committed.
    """
    query = select(pools.c.max_parallelism).where(pools.c.name == pool_name)
    if tx.lock_rows:
        query = query.with_for_update()
    return tx.connection.execute(query).scalar()


def _running_count(tx: Tx, pool_name: str) -> int:
    """Count the pool's running items that hold a parallelism slot."""
    return tx.connection.execute(
        select(func.count()).where(
            work.c.pool == pool_name,
            work.c.state == WorkState.RUNNING,
            work.c.lane == Lane.NORMAL,
        )
    ).scalar_one()


def _ready(
    tx: Tx, pool_name: str, functions: Iterable[str], lane: Lane, limit: int
) -> list[_Candidate]:
    if limit <= 0:
        return []
    found: list[_Candidate] = []
    for function in sorted(functions):
        query = (
            select(
                work.c.seq,
                work.c.id,
                work.c.function,
                work.c.attempt,
                work.c.args,
                work.c.ready_at_us,
            )
            .where(
                work.c.pool == pool_name,
                work.c.function == function,
                work.c.lane == lane,
                work.c.state == WorkState.PENDING,
                work.c.ready_at_us <= tx.now_us,
            )
            .order_by(work.c.ready_at_us, work.c.seq)
            .limit(limit)
        )
        if tx.lock_rows:
            query = query.with_for_update(skip_locked=True)
        for row in tx.connection.execute(query):
            found.append(
                _Candidate(
                    row.seq,
                    row.id,
                    pool_name,
                    row.function,
                    lane,
                    row.attempt,
                    row.args,
                    row.ready_at_us,
                )
            )
    found.sort(key=lambda c: (c.ready_at_us, c.seq))
    return found[:limit]


def _next_assignable(
    queues: dict,
    pool_name: str,
    workers: Sequence[WorkerSlots],
    credits: dict[str, int],
    free_slots: dict[str, int],
) -> tuple[_Candidate, str] | None:
    """Take the pool's next candidate that some worker can run now."""
    for candidate in queues[pool_name]:
        if candidate.lane is Lane.NORMAL and free_slots[pool_name] <= 0:
            continue
        owner = _pick_worker(candidate, workers, credits)
        if owner is None:
            continue
        credits[owner] -= 1
        if candidate.lane is Lane.NORMAL:
            free_slots[pool_name] -= 1
        return candidate, owner
    del queues[pool_name]
    return None


def _pick_worker(
    candidate: _Candidate, workers: Sequence[WorkerSlots], credits: dict[str, int]
) -> str | None:
    best: str | None = None
    for worker in workers:
        if credits[worker.owner] <= 0:
            continue
        if (
            candidate.pool not in worker.pools
            or candidate.function not in worker.functions
        ):
            continue
        if best is None or credits[worker.owner] > credits[best]:
            best = worker.owner
    return best


def _lease(
    tx: Tx, chosen: list[tuple[_Candidate, str]], lease_us: int
) -> list[Assignment]:
    if not chosen:
        return []
    expires = tx.now_us + lease_us
    by_owner: dict[str, list[int]] = {}
    for candidate, owner in chosen:
        by_owner.setdefault(owner, []).append(candidate.seq)
    for owner, seqs in by_owner.items():
        tx.connection.execute(
            update(work)
            .where(work.c.seq.in_(seqs))
            .values(
                state=WorkState.RUNNING,
                attempt=work.c.attempt + 1,
                lease_owner=owner,
                lease_expires_at_us=expires,
                started_at_us=tx.now_us,
            )
        )
    tx.flush()
    return [
        Assignment(
            work_id=c.work_id,
            attempt=c.attempt + 1,
            function=c.function,
            args=c.args,
            pool=c.pool,
            lease_expires_at_us=expires,
            lease_owner=owner,
            lane=c.lane,
            ready_at_us=c.ready_at_us,
        )
        for c, owner in chosen
    ]


def next_due_us(
    connection: Connection, now_us: int, served: Iterable[tuple[str, str]]
) -> int | None:
    """Return the earliest future time at which something must happen.

    That is the next ready time of an item some worker serves, the next
    lease expiry, or the next status expiry.
    """
    times: list[int] = []
    # One query per lane, so that each is a seek in work_ready_idx whatever
    # the number of pending items.
    for pool_name, function in served:
        for lane in Lane:
            value = connection.execute(
                select(func.min(work.c.ready_at_us)).where(
                    work.c.pool == pool_name,
                    work.c.function == function,
                    work.c.lane == lane,
                    work.c.state == WorkState.PENDING,
                    work.c.ready_at_us > now_us,
                )
            ).scalar()
            if value is not None:
                times.append(value)
    for column, state in (
        (work.c.lease_expires_at_us, WorkState.RUNNING),
        (work.c.expires_at_us, WorkState.FINISHED),
    ):
        query = select(func.min(column)).where(work.c.state == state)
        if state is WorkState.FINISHED:
            query = query.where(work.c.expires_at_us.is_not(None))
        value = connection.execute(query).scalar()
        if value is not None:
            times.append(value)
    return min(times) if times else None


# Results


def _load_for_update(tx: Tx, work_ids: Sequence[str]) -> dict[str, Row]:
    query = select(*_STATUS_COLUMNS).where(work.c.id.in_(work_ids))
    if tx.lock_rows:
        query = query.with_for_update()
    return {row.id: row for row in tx.connection.execute(query)}


def record_results(
    tx: Tx, owner: str, reports: Sequence[AttemptReport]
) -> list[ResultAck]:
    """Apply attempt results from one worker stream; return one ack each.

    A result counts only for the item's current attempt while the reporting
    stream holds its lease; anything else is stale and changes nothing.
    """
    rows = _load_for_update(tx, [report.work_id for report in reports])
    acks: list[ResultAck] = []
    for report in reports:
        row = rows.get(report.work_id)
        current = (
            row is not None
            and row.state == WorkState.RUNNING
            and row.attempt == report.attempt
            and row.lease_owner == owner
        )
        acks.append(ResultAck(report.work_id, report.attempt, current))
        if not current:
            continue

        _end_attempt(tx, row, report.outcome)
        # A repeated report in the same message must find the item ended.
        rows.pop(report.work_id)

    tx.flush()
    return acks


def _end_attempt(
    tx: Tx,
    row: Row,
    outcome: Outcome,
    attempt_outcome: AttemptOutcome = AttemptOutcome.FAILURE,
) -> None:
    """End the running attempt of `row` with `outcome`.

    `attempt_outcome` is what the attempt history records for a failure that
    came with no cancel request.
    """
    _record_attempt_end(tx, row, outcome, attempt_outcome)
    if row.started_at_us is not None:
        tx.effects.run_durations.append(
            (row.pool, (tx.now_us - row.started_at_us) / 1_000_000)
        )
    tx.effects.wake_dispatch = True

    if outcome.kind is ResultKind.SUCCESS:
        _finish(tx, row, outcome, attempts=row.attempt)
        return
    if row.cancel_requested:
        _finish(tx, row, Outcome(ResultKind.CANCELED), attempts=row.attempt)
        return
    if outcome.non_retryable or row.attempt >= row.max_attempts:
        _finish(tx, row, outcome, attempts=row.attempt)
        return

    policy = RetryPolicy(
        row.max_attempts, row.initial_backoff_us, row.backoff_base, row.max_backoff_us
    )
    delay = backoff_us(policy, row.attempt, tx.random())
    tx.connection.execute(
        update(work)
        .where(work.c.seq == row.seq)
        .values(
            state=WorkState.PENDING,
            ready_at_us=tx.now_us + delay,
            lease_owner=None,
            lease_expires_at_us=None,
            last_error=outcome.error.encode("utf-8", "surrogatepass"),
        )
    )
    tx.effects.count(tx.effects.retried, row.pool)


def _record_attempt_end(
    tx: Tx, row: Row, outcome: Outcome, attempt_outcome: AttemptOutcome
) -> None:
    if outcome.kind is ResultKind.SUCCESS:
        attempt_outcome = AttemptOutcome.SUCCESS
    elif row.cancel_requested:
        attempt_outcome = AttemptOutcome.CANCELED
    tx._attempt_ends.append(
        attempt_history.attempt_end(
            row.id, row.attempt, attempt_outcome, outcome.error, tx.now_us
        )
    )


def _finish(tx: Tx, row: Row, outcome: Outcome, attempts: int) -> None:
    settings = tx.pool(row.pool)
    ttl = settings.status_ttl_us if settings is not None else None
    error = outcome.error.encode("utf-8", "surrogatepass")
    tx.connection.execute(
        update(work)
        .where(work.c.seq == row.seq)
        .values(
            state=WorkState.FINISHED,
            lease_owner=None,
            lease_expires_at_us=None,
            result_kind=outcome.kind,
            return_value=outcome.return_value,
            non_retryable=outcome.non_retryable,
            last_error=error if outcome.kind is ResultKind.FAILURE else row.last_error,
            finished_at_us=tx.now_us,
            expires_at_us=None if ttl is None else tx.now_us + ttl,
        )
    )
    tx._new_completions.append(
        {
            "work_id": row.id,
            "pool": row.pool,
            "function": row.function,
            "result_kind": outcome.kind,
            "return_value": outcome.return_value,
            "error": error if outcome.kind is ResultKind.FAILURE else None,
            "non_retryable": outcome.non_retryable,
            "context": row.on_complete_context,
            "attempts": attempts,
            "finished_at_us": tx.now_us,
        }
    )
    if row.on_complete_function:
        _insert_follow_up(tx, row, outcome)


def _insert_follow_up(tx: Tx, row: Row, outcome: Outcome) -> None:
    settings = tx.pool(row.pool)
    policy = settings.default_retry if settings is not None else RetryPolicy()
    args = tx.build_follow_up_args(row.id, row.on_complete_context, outcome)
    tx.connection.execute(
        insert(work).values(
            id=tx.ids.new_id(tx.now_us),
            pool=row.pool,
            function=row.on_complete_function,
            args=args,
            state=WorkState.PENDING,
            lane=Lane.FOLLOW_UP,
            ready_at_us=tx.now_us,
            enqueued_at_us=tx.now_us,
            attempt=0,
            max_attempts=policy.max_attempts,
            initial_backoff_us=policy.initial_backoff_us,
            backoff_base=policy.base,
            max_backoff_us=policy.max_backoff_us,
            cancel_requested=False,
        )
    )
    tx.effects.count(tx.effects.enqueued, row.pool)


def completion_from_mapping(entry: dict) -> CompletionRecord:
    error = entry["error"]
    return CompletionRecord(
        sequence=entry["sequence"],
        work_id=entry["work_id"],
        pool=entry["pool"],
        function=entry["function"],
        outcome=Outcome(
            kind=ResultKind(entry["result_kind"]),
            return_value=entry["return_value"],
            error=error.decode("utf-8", "surrogatepass") if error else "",
            non_retryable=bool(entry["non_retryable"]),
        ),
        context=entry["context"],
        attempts=entry["attempts"],
        finished_at_us=entry["finished_at_us"],
    )


# Leases


def renew_leases(
    tx: Tx, owner: str, work_ids: Sequence[str], lease_us: int
) -> set[str]:
    """Extend the leases `owner` holds; return the ids it no longer holds."""
    owned_ids = set(
        tx.connection.execute(
            select(work.c.id).where(
                work.c.id.in_(work_ids),
                work.c.state == WorkState.RUNNING,
                work.c.lease_owner == owner,
            )
        ).scalars()
    )
    if owned_ids:
        tx.connection.execute(
            update(work)
            .where(work.c.id.in_(owned_ids), work.c.lease_owner == owner)
            .values(lease_expires_at_us=tx.now_us + lease_us)
        )
    return set(work_ids) - owned_ids


def release_owner(tx: Tx, owner: str) -> int:
    """End every attempt leased to a closed worker stream as "worker lost"."""
    seqs = (
        tx.connection.execute(
            select(work.c.seq).where(
                work.c.lease_owner == owner, work.c.state == WorkState.RUNNING
            )
        )
        .scalars()
        .all()
    )
    return _fail_running(tx, seqs, WORKER_LOST, AttemptOutcome.WORKER_LOST)


SERVER_RESTARTED = (
    "server restarted: the attempt's worker stream ended with the previous "
    "server process, so its lease was released"
)


def release_all(tx: Tx) -> int:
    """End every running attempt, as a restarted single server must."""
    seqs = (
        tx.connection.execute(
            select(work.c.seq).where(work.c.state == WorkState.RUNNING)
        )
        .scalars()
        .all()
    )
    return _fail_running(tx, seqs, SERVER_RESTARTED, AttemptOutcome.WORKER_LOST)


def expire_leases(tx: Tx, limit: int) -> int:
    """End attempts whose lease ran out, oldest first, at most `limit`."""
    query = (
        select(work.c.seq)
        .where(
            work.c.state == WorkState.RUNNING,
            work.c.lease_expires_at_us <= tx.now_us,
        )
        .order_by(work.c.lease_expires_at_us)
        .limit(limit)
    )
    if tx.lock_rows:
        query = query.with_for_update(skip_locked=True)
    seqs = tx.connection.execute(query).scalars().all()
    return _fail_running(
        tx, seqs, LEASE_EXPIRED, AttemptOutcome.LEASE_EXPIRED, notify_owner=True
    )


def _fail_running(
    tx: Tx,
    seqs: Sequence[int],
    error: str,
    attempt_outcome: AttemptOutcome,
    notify_owner: bool = False,
) -> int:
    if not seqs:
        return 0
    rows = tx.connection.execute(select(*_STATUS_COLUMNS).where(work.c.seq.in_(seqs)))
    count = 0
    for row in rows.all():
        if row.state != WorkState.RUNNING:
            continue
        if notify_owner and row.lease_owner:
            tx.effects.cancels.append(
                CancelNotice(row.id, row.attempt, row.lease_owner, lease_lost=True)
            )
        _end_attempt(tx, row, Outcome(ResultKind.FAILURE, error=error), attempt_outcome)
        count += 1
    tx.flush()
    return count


# Cancel


def cancel(tx: Tx, work_id: str) -> CancelOutcome:
    row = _load_for_update(tx, [work_id]).get(work_id)
    if row is None:
        return CancelOutcome.NOT_FOUND
    outcome = _cancel_row(tx, row)
    tx.flush()
    return outcome


def _cancel_row(tx: Tx, row: Row) -> CancelOutcome:
    if row.state == WorkState.FINISHED:
        return CancelOutcome.ALREADY_FINISHED
    if row.state == WorkState.PENDING:
        _finish(tx, row, Outcome(ResultKind.CANCELED), attempts=row.attempt)
        tx.effects.wake_dispatch = True
        return CancelOutcome.CANCELED

    if not row.cancel_requested:
        tx.connection.execute(
            update(work).where(work.c.seq == row.seq).values(cancel_requested=True)
        )
    tx.effects.cancels.append(CancelNotice(row.id, row.attempt, row.lease_owner))
    return CancelOutcome.CANCEL_REQUESTED


def last_seq(connection: Connection) -> int:
    return connection.execute(
        select(func.coalesce(func.max(work.c.seq), 0))
    ).scalar_one()


def cancel_page(
    tx: Tx, pool_name: str, cutoff_seq: int, after_seq: int, limit: int
) -> tuple[int, int, int | None]:
    """Cancel one page of a pool's unfinished items with seq in (after, cutoff].

    Return (canceled, cancel_requested, last seq of the page or None when
    nothing is left).
    """
    query = (
        select(*_STATUS_COLUMNS)
        .where(
            work.c.pool == pool_name,
            work.c.state.in_([WorkState.PENDING, WorkState.RUNNING]),
            work.c.seq > after_seq,
            work.c.seq <= cutoff_seq,
        )
        .order_by(work.c.seq)
        .limit(limit)
    )
    if tx.lock_rows:
        query = query.with_for_update(skip_locked=True)
    rows = tx.connection.execute(query).all()
    canceled = requested = 0
    for row in rows:
        if row.lane == Lane.FOLLOW_UP:
            continue
        if _cancel_row(tx, row) is CancelOutcome.CANCELED:
            canceled += 1
        elif not row.cancel_requested:
            requested += 1
    tx.flush()
    return canceled, requested, (rows[-1].seq if rows else None)


# Retention


def sweep_expired(tx: Tx, limit: int) -> int:
    """Delete finished items whose status TTL has passed, at most `limit`."""
    query = (
        select(work.c.seq, work.c.id)
        .where(
            work.c.state == WorkState.FINISHED,
            work.c.expires_at_us.is_not(None),
            work.c.expires_at_us <= tx.now_us,
        )
        .order_by(work.c.expires_at_us)
        .limit(limit)
    )
    if tx.lock_rows:
        query = query.with_for_update(skip_locked=True)
    expired = tx.connection.execute(query).all()
    if not expired:
        return 0
    seqs = [row.seq for row in expired]
    attempt_history.delete_for_work(tx.connection, [row.id for row in expired])
    return tx.connection.execute(
        delete(work).where(work.c.seq.in_(seqs), work.c.state == WorkState.FINISHED)
    ).rowcount


def sweep_completions(tx: Tx, cutoff_us: int, limit: int) -> int:
    """Delete completion-log entries older than `cutoff_us`, at most `limit`."""
    query = (
        select(completions.c.sequence)
        .where(completions.c.finished_at_us < cutoff_us)
        .order_by(completions.c.sequence)
        .limit(limit)
    )
    if tx.lock_rows:
        query = query.with_for_update(skip_locked=True)
    sequences = tx.connection.execute(query).scalars().all()
    if not sequences:
        return 0
    return tx.connection.execute(
        delete(completions).where(completions.c.sequence.in_(sequences))
    ).rowcount


# Reads


def _status_from_row(row: Row) -> WorkStatusView:
    state = WorkState(row.state)
    result = None
    if state is WorkState.FINISHED:
        error = (
            row.last_error.decode("utf-8", "surrogatepass") if row.last_error else ""
        )
        result = Outcome(
            kind=ResultKind(row.result_kind),
            return_value=row.return_value,
            error=error if row.result_kind == ResultKind.FAILURE else "",
            non_retryable=bool(row.non_retryable),
        )
    previous = row.attempt - 1 if state is WorkState.RUNNING else row.attempt
    return WorkStatusView(
        work_id=row.id,
        pool=row.pool,
        function=row.function,
        state=state,
        previous_attempts=previous,
        enqueued_at_us=row.enqueued_at_us,
        ready_at_us=row.ready_at_us if state is WorkState.PENDING else None,
        finished_at_us=row.finished_at_us,
        result=result,
        last_error=(
            row.last_error.decode("utf-8", "surrogatepass") if row.last_error else ""
        ),
    )


@dataclass(frozen=True)
class WaitFacts:
    """Facts about one item that Explain needs, read in one transaction."""

    status: WorkStatusView
    lane: Lane
    lease_owner: str | None
    started_at_us: int | None
    ready_at_us: int
    max_parallelism: int | None
    running_ids: list[str]
    running_count: int
    ahead_count: int


def wait_facts(connection: Connection, work_id: str, now_us: int) -> WaitFacts | None:
    row = connection.execute(
        select(*_STATUS_COLUMNS).where(work.c.id == work_id)
    ).first()
    if row is None:
        return None
    max_parallelism = connection.execute(
        select(pools.c.max_parallelism).where(pools.c.name == row.pool)
    ).scalar()
    running = (
        connection.execute(
            select(work.c.id)
            .where(
                work.c.pool == row.pool,
                work.c.state == WorkState.RUNNING,
                work.c.lane == Lane.NORMAL,
            )
            .order_by(work.c.seq)
            .limit(20)
        )
        .scalars()
        .all()
    )
    running_count = connection.execute(
        select(func.count()).where(
            work.c.pool == row.pool,
            work.c.state == WorkState.RUNNING,
            work.c.lane == Lane.NORMAL,
        )
    ).scalar_one()
    ahead = 0
    if row.state == WorkState.PENDING and row.ready_at_us <= now_us:
        ahead = connection.execute(
            select(func.count()).where(
                work.c.pool == row.pool,
                work.c.function == row.function,
                work.c.lane == row.lane,
                work.c.state == WorkState.PENDING,
                work.c.ready_at_us <= now_us,
                (work.c.ready_at_us < row.ready_at_us)
                | ((work.c.ready_at_us == row.ready_at_us) & (work.c.seq < row.seq)),
            )
        ).scalar_one()
    return WaitFacts(
        status=_status_from_row(row),
        lane=Lane(row.lane),
        lease_owner=row.lease_owner,
        started_at_us=row.started_at_us,
        ready_at_us=row.ready_at_us,
        max_parallelism=max_parallelism,
        running_ids=list(running),
        running_count=running_count,
        ahead_count=ahead,
    )


def get_statuses(
    connection: Connection, work_ids: Sequence[str]
) -> dict[str, WorkStatusView]:
    rows = connection.execute(select(*_STATUS_COLUMNS).where(work.c.id.in_(work_ids)))
    return {row.id: _status_from_row(row) for row in rows}


def read_completions(
    connection: Connection, after_sequence: int, limit: int
) -> list[CompletionRecord]:
    rows = connection.execute(
        select(completions)
        .where(completions.c.sequence > after_sequence)
        .order_by(completions.c.sequence)
        .limit(limit)
    )
    return [completion_from_mapping(dict(row._mapping)) for row in rows]


def oldest_completion_us(connection: Connection) -> int | None:
    return connection.execute(select(func.min(completions.c.finished_at_us))).scalar()


def first_retained_sequence(connection: Connection) -> int | None:
    return connection.execute(select(func.min(completions.c.sequence))).scalar()


def queue_gauges(
    connection: Connection, now_us: int
) -> dict[str, tuple[int, int, int | None, int]]:
    """Return, per pool: pending count, running count, oldest ready time and
    the count of pending items that are ready now."""
    gauges: dict[str, list] = {}
    rows = connection.execute(
        select(work.c.pool, work.c.state, func.count())
        .where(work.c.state.in_([WorkState.PENDING, WorkState.RUNNING]))
        .group_by(work.c.pool, work.c.state)
    )
    for pool_name, state, count in rows:
        entry = gauges.setdefault(pool_name, [0, 0, None, 0])
        entry[0 if state == WorkState.PENDING else 1] = count
    ready = connection.execute(
        select(work.c.pool, func.min(work.c.ready_at_us), func.count())
        .where(work.c.state == WorkState.PENDING, work.c.ready_at_us <= now_us)
        .group_by(work.c.pool)
    )
    for pool_name, ready_at, count in ready:
        entry = gauges.setdefault(pool_name, [0, 0, None, 0])
        entry[2] = ready_at
        entry[3] = count
    return {name: tuple(entry) for name, entry in gauges.items()}


def pool_limits(connection: Connection) -> dict[str, int]:
    """Return the max_parallelism of every pool."""
    rows = connection.execute(select(pools.c.name, pools.c.max_parallelism))
    return {name: limit for name, limit in rows}
