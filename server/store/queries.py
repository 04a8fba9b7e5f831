"""Transactions of the engine, written once for SQLite and PostgreSQL.

Every function here runs inside a transaction opened by the caller: the
writer's for changes, a reader's for lookups. Functions that change state
record what must happen after the commit (completions to publish, cancel
requests to send) in `Tx.effects`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    Connection,
    Row,
    Select,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)

from workpool_server.engine import gates
from workpool_server.engine.model import (
    Assignment,
    AttemptOutcome,
    AttemptReport,
    CancelCause,
    CancelNotice,
    CancelOutcome,
    CircuitState,
    CompletionRecord,
    Effects,
    Lane,
    NewWork,
    Outcome,
    PoolSettings,
    ResultAck,
    ResultKind,
    RetryPolicy,
    SchedulingStats,
    WorkState,
    WorkStatusView,
)
from workpool_server.engine.retry import backoff_us, resolve_policy
from workpool_server.errors import (
    AlreadyExistsError,
    FailedPreconditionError,
    FieldViolation,
    InvalidArgumentError,
    NotFoundError,
)
from workpool_server.ids import WorkIdGenerator
from workpool_server.store import attempts as attempt_history
from workpool_server.store import scheduling
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
    work.c.concurrency_key,
    work.c.priority,
    work.c.continuations,
    work.c.budget_start,
    work.c.attempt_timeout_us,
    work.c.deadline_us,
)

# Statements of the hot paths, built once and run with one parameter set per
# row (executemany), because building a Core statement per row took about a
# fifth of the server's CPU in a drain. A bindparam may not share a column's
# name, so the row's key is `row_seq`. An UPDATE sets the columns its
# parameter sets name, and all sets of one call must name the same columns.
_UPDATE_BY_SEQ = update(work).where(work.c.seq == bindparam("row_seq"))
_INSERT_WORK = insert(work)
_INSERT_COMPLETIONS = insert(completions)
_ADVANCE_SEQUENCE = (
    update(counters)
    .where(counters.c.name == COMPLETION_SEQUENCE)
    .values(value=counters.c.value + bindparam("count"))
    .returning(counters.c.value)
)


# The claim's lease of a group of items with the same owner and deadline.
_LEASE = (
    update(work)
    .where(work.c.seq.in_(bindparam("seqs", expanding=True)))
    .values(state=WorkState.RUNNING, attempt=work.c.attempt + 1)
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
    wake_at_us: list[int] = field(default_factory=list)
    """Future times at which a start gate may open (a rate-limit token, the
    end of a breaker's cool-down), for the dispatch loop's next wake-up."""
    _pools: dict[str, PoolSettings] = field(default_factory=dict)
    _new_completions: list[dict] = field(default_factory=list)
    _attempt_ends: list[dict] = field(default_factory=list)
    _finished: list[dict] = field(default_factory=list)
    _retried: list[dict] = field(default_factory=list)
    _follow_ups: list[dict] = field(default_factory=list)

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
        """Write the rows this transaction deferred: ended attempts, their
        history, follow-ups and completion-log entries.

        Functions that defer rows call this before they return, so later reads
        in the same transaction find the work rows already updated.
        """
        connection = self.connection
        for rows in (self._finished, self._retried):
            if rows:
                connection.execute(_UPDATE_BY_SEQ, rows)
                rows.clear()
        if self._attempt_ends:
            attempt_history.record_ends(connection, self._attempt_ends)
            self._attempt_ends.clear()
        if self._follow_ups:
            connection.execute(_INSERT_WORK, self._follow_ups)
            self._follow_ups.clear()
        if not self._new_completions:
            return

        count = len(self._new_completions)
        last = connection.execute(_ADVANCE_SEQUENCE, {"count": count}).scalar_one()
        first = last - count + 1
        for offset, entry in enumerate(self._new_completions):
            entry["sequence"] = first + offset
        connection.execute(_INSERT_COMPLETIONS, self._new_completions)
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
        **scheduling.scheduling_from_row(row),
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
        **scheduling.scheduling_values(settings),
    }


def create_pool(connection: Connection, settings: PoolSettings, now_us: int) -> None:
    exists = connection.execute(
        select(pools.c.name).where(pools.c.name == settings.name)
    ).first()
    if exists is not None:
        raise AlreadyExistsError(f"pool {settings.name!r} already exists")
    _check_parent(connection, settings)
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
    row = connection.execute(select(pools).where(pools.c.name == settings.name)).first()
    if row is not None:
        _check_parent(connection, settings)
        scheduling.reset_gates(connection, pool_from_row(row), settings, now_us)
    updated = connection.execute(
        update(pools)
        .where(pools.c.name == settings.name)
        .values(updated_at_us=now_us, **_pool_values(settings))
    ).rowcount
    if not updated:
        create_pool(connection, settings, now_us)


def _check_parent(connection: Connection, settings: PoolSettings) -> None:
    problem = scheduling.parent_problem(connection, settings)
    if problem is not None:
        raise InvalidArgumentError([FieldViolation("pool.parent", problem)])


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
    lenders = scheduling.children(connection, name)
    if lenders:
        raise FailedPreconditionError(
            f"pool {name!r} is the parent of {', '.join(lenders)}: clear their "
            "parent setting first"
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
        _drop_unset_columns(rows)
        tx.connection.execute(_INSERT_WORK, rows)
        tx.effects.count(tx.effects.enqueued, pool_name, len(rows))
        tx.effects.wake_dispatch = True
    return results


# Nullable work columns without a default that most enqueues leave empty.
_OPTIONAL_COLUMNS = (
    "on_complete_function",
    "on_complete_context",
    "idempotency_key",
    "concurrency_key",
    "attempt_timeout_us",
)


def _drop_unset_columns(rows: list[dict]) -> None:
    """Leave out optional columns that no row of the batch sets.

    The database stores NULL for them either way, and each column left out
    is one parameter less for SQLAlchemy to process per row.
    """
    for name in _OPTIONAL_COLUMNS:
        if all(row[name] is None for row in rows):
            for row in rows:
                del row[name]


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
        "concurrency_key": item.concurrency_key,
        "priority": item.priority,
        "rank_us": ready_at - item.priority * settings.priority_aging_us,
        "attempt_timeout_us": item.attempt_timeout_us,
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
    concurrency_key: str | None = None
    attempt_timeout_us: int | None = None
    borrowed_from: str | None = None


@dataclass
class _PoolGate:
    """One pool's limits for the rest of a claim, counted down as it assigns."""

    settings: PoolSettings
    free_slots: int
    lender: str | None = None
    """Parent whose idle slots this pool may use once its own are taken."""
    gate_starts: int | None = None
    """Starts the rate limit and breaker allow, None for no limit."""
    bucket: gates.Bucket | None = None
    breaker: gates.BreakerState | None = None
    breaker_changed: bool = False
    started: int = 0


def claim(
    tx: Tx, workers: Sequence[WorkerSlots], lease_us: int, pool_order: Sequence[str]
) -> list[Assignment]:
    """Lease ready items to workers with free slots.

    Follow-ups come first and hold no slot; then each pool's items in rank
    order (priority raised by waiting time), up to its free parallelism, its
    per-key limit, its rate limit and its circuit breaker. A pool with a
    parent may also use the parent's idle slots while the parent has no
    ready item to start. Pools take turns one item at a time, so a busy pool
    cannot starve a quiet one of worker slots.
    """
    total_credits = sum(worker.credits for worker in workers)
    served: dict[str, frozenset[str]] = {}
    for pool_name in pool_order:
        functions = frozenset().union(
            *(w.functions for w in workers if pool_name in w.pools and w.credits > 0)
        )
        if functions:
            served[pool_name] = functions
    rows = _lock_pools(tx, served)

    # Parents first, so that a child's claim can tell whether its parent starts work.
    gates_by_pool: dict[str, _PoolGate] = {}
    candidates_by_pool: dict[str, list[_Candidate]] = {}
    for pool_name in sorted(
        rows, key=lambda name: (rows[name].parent is not None, name)
    ):
        row = rows[pool_name]
        settings = pool_from_row(row)
        gate = _open_gate(tx, settings, row)
        gates_by_pool[pool_name] = gate
        functions = served.get(pool_name)
        if functions is None:
            continue
        follow_ups = _ready(tx, pool_name, functions, Lane.FOLLOW_UP, total_credits)
        borrowable = _borrowable(tx, settings, gates_by_pool, candidates_by_pool)
        if borrowable:
            gate.lender = settings.parent
        limit = min(gate.free_slots + borrowable, total_credits)
        if gate.gate_starts is not None:
            limit = min(limit, gate.gate_starts)
        normal = _ready(
            tx, pool_name, functions, Lane.NORMAL, limit, settings.max_per_key
        )
        if follow_ups or normal:
            candidates_by_pool[pool_name] = follow_ups + normal

    credits = {worker.owner: worker.credits for worker in workers}
    chosen: list[tuple[_Candidate, str]] = []
    queues = {
        name: iter(items)
        for name in pool_order
        if (items := candidates_by_pool.get(name))
    }
    while queues and any(credits.values()):
        for pool_name in list(queues):
            picked = _next_assignable(
                queues, pool_name, workers, credits, gates_by_pool
            )
            if picked is not None:
                chosen.append(picked)

    assignments = _lease(tx, chosen, lease_us, gates_by_pool)
    _close_gates(tx, gates_by_pool)
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


def _lock_pools(tx: Tx, served: dict[str, frozenset[str]]) -> dict[str, Row]:
    """Read the served pools and their parents, locking their rows.

    Rows are locked in name order, so that replicas claiming at once cannot
    deadlock on each other's pools. The lock makes claims of one pool take
    turns across replicas, so each claim counts the running items, per-key
    counts, tokens and breaker state after the previous claim committed.
    """
    if not served:
        return {}
    names = sorted(served)
    parents = select(pools.c.parent).where(
        pools.c.name.in_(names), pools.c.parent.is_not(None)
    )
    query = (
        select(pools)
        .where(pools.c.name.in_(names) | pools.c.name.in_(parents.scalar_subquery()))
        .order_by(pools.c.name)
    )
    if tx.lock_rows:
        query = query.with_for_update()
    return {row.name: row for row in tx.connection.execute(query)}


def _open_gate(tx: Tx, settings: PoolSettings, row: Row) -> _PoolGate:
    """Count the pool's free slots and what its rate limit and breaker allow."""
    connection = tx.connection
    used = scheduling.own_running(connection, settings.name)
    used += scheduling.lent_running(connection, settings.name)
    gate = _PoolGate(settings, max(settings.max_parallelism - used, 0))

    if settings.rate_limit is not None:
        gate.bucket = gates.refill(
            settings.rate_limit, scheduling.stored_bucket(row), tx.now_us
        )
        gate.gate_starts = gates.whole_tokens(gate.bucket)

    breaker = settings.circuit_breaker
    if breaker is not None:
        stored = scheduling.stored_breaker(row)
        gate.breaker = scheduling.current_breaker(connection, breaker, row, tx.now_us)
        gate.breaker_changed = gate.breaker != stored
        scheduling.prune_breaker_attempts(
            connection, settings.name, breaker, gate.breaker, tx.now_us
        )
        allowed = gates.breaker_allows(gate.breaker)
        if allowed is not None:
            gate.gate_starts = (
                allowed if gate.gate_starts is None else min(gate.gate_starts, allowed)
            )
    return gate


def _borrowable(
    tx: Tx,
    settings: PoolSettings,
    gates_by_pool: dict[str, _PoolGate],
    candidates_by_pool: dict[str, list[_Candidate]],
) -> int:
    """Return the parent's idle slots this pool may use, 0 without a parent or
    while the parent has ready work of its own to start."""
    parent_gate = gates_by_pool.get(settings.parent or "")
    if parent_gate is None or parent_gate.free_slots <= 0:
        return 0
    # A paused pool starts nothing, on its own slots or borrowed ones.
    if settings.max_parallelism == 0:
        return 0
    parent = parent_gate.settings
    if parent.name in candidates_by_pool:
        if any(c.lane is Lane.NORMAL for c in candidates_by_pool[parent.name]):
            return 0
    elif scheduling.has_ready_normal(tx.connection, parent.name, tx.now_us, None):
        # NOTE: with no worker for the parent on this replica, any ready item
        # of the parent counts as startable, even one no worker serves.
        return 0
    return parent_gate.free_slots


def _close_gates(tx: Tx, gates_by_pool: dict[str, _PoolGate]) -> None:
    """Store each pool's spent tokens and breaker state, and note when the
    next token or the end of a cool-down may start more work."""
    for name, gate in gates_by_pool.items():
        bucket = gate.bucket
        if bucket is not None:
            bucket = gates.Bucket(bucket.tokens - gate.started, bucket.refilled_at_us)
            limit = gate.settings.rate_limit
            if limit is not None and gates.whole_tokens(bucket) < 1:
                tx.wake_at_us.append(gates.next_token_us(limit, bucket))
        breaker = gate.breaker if gate.breaker_changed else None
        scheduling.save_gates(tx.connection, name, bucket, breaker)
        breaker_state = gate.breaker
        if (
            breaker_state is not None
            and breaker_state.state is CircuitState.OPEN
            and breaker_state.open_until_us is not None
        ):
            tx.wake_at_us.append(breaker_state.open_until_us)


def _ready(
    tx: Tx,
    pool_name: str,
    functions: Iterable[str],
    lane: Lane,
    limit: int,
    max_per_key: int = 0,
) -> list[_Candidate]:
    """Return up to `limit` ready items in rank order, none of which would
    take a concurrency key past `max_per_key` (0: no per-key limit).

    Items of a key at its limit are skipped, not waited for: each round
    reads past them, excluding keys that filled up, until `limit` items are
    found or none is left.
    """
    if limit <= 0:
        return []
    key_counts = (
        scheduling.running_by_key(tx.connection, pool_name) if max_per_key else {}
    )
    full_keys = {key for key, count in key_counts.items() if count >= max_per_key}
    cursors: dict[str, tuple[int, int] | None] = dict.fromkeys(sorted(functions))
    found: list[_Candidate] = []
    while len(found) < limit and cursors:
        rows = []
        wanted = limit - len(found)
        for function, cursor in list(cursors.items()):
            page = _ready_page(tx, pool_name, function, lane, cursor, full_keys, wanted)
            rows.extend(page)
            # A short page read every matching item, and later rounds only
            # exclude more keys, so the function has nothing more to give.
            if len(page) < wanted:
                del cursors[function]
        rows.sort(key=lambda row: (row.rank_us, row.seq))
        for row in rows:
            if len(found) >= limit:
                break
            if row.function in cursors:
                cursors[row.function] = (row.rank_us, row.seq)
            key = row.concurrency_key
            if max_per_key and key is not None:
                if key_counts.get(key, 0) >= max_per_key:
                    full_keys.add(key)
                    continue
                key_counts[key] = key_counts.get(key, 0) + 1
            found.append(_candidate_from_row(pool_name, lane, row))
    return found


_READY_COLUMNS = (
    work.c.seq,
    work.c.id,
    work.c.function,
    work.c.attempt,
    work.c.args,
    work.c.ready_at_us,
    work.c.rank_us,
    work.c.concurrency_key,
    work.c.attempt_timeout_us,
)


def _ready_query(*conditions: Any, lock_rows: bool) -> Select:
    query = (
        select(*_READY_COLUMNS)
        .where(
            work.c.pool == bindparam("pool"),
            work.c.function == bindparam("function"),
            work.c.lane == bindparam("lane"),
            work.c.state == WorkState.PENDING,
            # "+ 0" keeps the planner off work_ready_idx. Without table
            # statistics SQLite 3.40 ranged over that index and sorted every
            # ready item by rank (11.7 ms for 20,000 ready items), where
            # work_rank_idx yields them already in order and the LIMIT stops
            # the scan early.
            work.c.ready_at_us + 0 <= bindparam("now_us"),
            *conditions,
        )
        .order_by(work.c.rank_us, work.c.seq)
        .limit(bindparam("limit"))
    )
    return query.with_for_update(skip_locked=True) if lock_rows else query


# Built once, because each dispatch pass reads a first page per served function
# and lane, and building the select took more CPU than SQLite took to run it.
_FIRST_READY_PAGE = {
    lock_rows: _ready_query(lock_rows=lock_rows) for lock_rows in (False, True)
}


def _ready_page(
    tx: Tx,
    pool_name: str,
    function: str,
    lane: Lane,
    cursor: tuple[int, int] | None,
    full_keys: set[str],
    limit: int,
) -> list[Row]:
    parameters: dict[str, Any] = {
        "pool": pool_name,
        "function": function,
        "lane": lane,
        "now_us": tx.now_us,
        "limit": limit,
    }
    if cursor is None and not full_keys:
        query = _FIRST_READY_PAGE[tx.lock_rows]
        return list(tx.connection.execute(query, parameters))

    conditions = []
    if cursor is not None:
        parameters["rank"], parameters["seq"] = cursor
        rank, seq = bindparam("rank"), bindparam("seq")
        conditions.append(
            (work.c.rank_us > rank) | ((work.c.rank_us == rank) & (work.c.seq > seq))
        )
    if full_keys:
        conditions.append(
            work.c.concurrency_key.is_(None)
            | work.c.concurrency_key.not_in(sorted(full_keys))
        )
    query = _ready_query(*conditions, lock_rows=tx.lock_rows)
    return list(tx.connection.execute(query, parameters))


def _candidate_from_row(pool_name: str, lane: Lane, row: Row) -> _Candidate:
    return _Candidate(
        row.seq,
        row.id,
        pool_name,
        row.function,
        lane,
        row.attempt,
        row.args,
        row.ready_at_us,
        concurrency_key=row.concurrency_key,
        attempt_timeout_us=row.attempt_timeout_us,
    )


def _next_assignable(
    queues: dict,
    pool_name: str,
    workers: Sequence[WorkerSlots],
    credits: dict[str, int],
    gates_by_pool: dict[str, _PoolGate],
) -> tuple[_Candidate, str] | None:
    """Take the pool's next candidate that some worker can run now."""
    gate = gates_by_pool[pool_name]
    for candidate in queues[pool_name]:
        lender = None
        if candidate.lane is Lane.NORMAL:
            if gate.gate_starts is not None and gate.started >= gate.gate_starts:
                continue
            if gate.free_slots <= 0:
                lender = gates_by_pool.get(gate.lender or "")
                if lender is None or lender.free_slots <= 0:
                    continue
        owner = _pick_worker(candidate, workers, credits)
        if owner is None:
            continue
        credits[owner] -= 1
        if candidate.lane is Lane.NORMAL:
            gate.started += 1
            if lender is None:
                gate.free_slots -= 1
            else:
                lender.free_slots -= 1
                candidate.borrowed_from = lender.settings.name
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
    tx: Tx,
    chosen: list[tuple[_Candidate, str]],
    lease_us: int,
    gates_by_pool: dict[str, _PoolGate],
) -> list[Assignment]:
    if not chosen:
        return []
    expires = tx.now_us + lease_us
    groups: dict[tuple[str, str | None, int | None], list[int]] = {}
    deadlines: dict[int, int | None] = {}
    for candidate, owner in chosen:
        gate = gates_by_pool[candidate.pool]
        timeout = candidate.attempt_timeout_us
        if timeout is None:
            timeout = gate.settings.default_attempt_timeout_us
        deadline = None if timeout is None else tx.now_us + timeout
        deadlines[candidate.seq] = deadline
        group = (owner, candidate.borrowed_from, deadline)
        groups.setdefault(group, []).append(candidate.seq)
        breaker = gate.breaker
        if (
            candidate.lane is Lane.NORMAL
            and breaker is not None
            and breaker.state is CircuitState.HALF_OPEN
        ):
            gate.breaker = gates.BreakerState(
                CircuitState.HALF_OPEN,
                probe_work_id=candidate.work_id,
                probe_attempt=candidate.attempt + 1,
            )
            gate.breaker_changed = True
    for (owner, borrowed_from, deadline), seqs in groups.items():
        tx.connection.execute(
            _LEASE,
            {
                "seqs": seqs,
                "lease_owner": owner,
                "lease_expires_at_us": expires,
                "started_at_us": tx.now_us,
                "deadline_us": deadline,
                "borrowed_from": borrowed_from,
            },
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
            deadline_us=deadlines[c.seq],
        )
        for c, owner in chosen
    ]


# The statements of next_ready_us and next_expiry_us, which run on every
# dispatch pass.
_NEXT_READY = select(func.min(work.c.ready_at_us)).where(
    work.c.pool == bindparam("pool"),
    work.c.function == bindparam("function"),
    work.c.lane == bindparam("lane"),
    work.c.state == WorkState.PENDING,
    work.c.ready_at_us > bindparam("now_us"),
)
_NEXT_EXPIRY = (
    select(func.min(work.c.lease_expires_at_us)).where(
        work.c.state == WorkState.RUNNING
    ),
    select(func.min(work.c.deadline_us)).where(
        work.c.state == WorkState.RUNNING, work.c.deadline_us.is_not(None)
    ),
    select(func.min(work.c.expires_at_us)).where(
        work.c.state == WorkState.FINISHED, work.c.expires_at_us.is_not(None)
    ),
)


def next_ready_us(
    connection: Connection, now_us: int, served: Iterable[tuple[str, str]]
) -> int | None:
    """Return the earliest future ready time of an item some worker serves."""
    times: list[int] = []
    # One query per lane, so that each is a seek in work_ready_idx whatever
    # the number of pending items.
    for pool_name, function in served:
        for lane in Lane:
            parameters = {
                "pool": pool_name,
                "function": function,
                "lane": lane,
                "now_us": now_us,
            }
            value = connection.execute(_NEXT_READY, parameters).scalar()
            if value is not None:
                times.append(value)
    return min(times) if times else None


def next_expiry_us(connection: Connection) -> int | None:
    """Return the earliest lease expiry, attempt deadline or status expiry."""
    times = []
    for query in _NEXT_EXPIRY:
        value = connection.execute(query).scalar()
        if value is not None:
            times.append(value)
    return min(times) if times else None


# Results


def _load_for_update(tx: Tx, work_ids: Sequence[str]) -> dict[str, Row]:
    rows: dict[str, Row] = {}
    for chunk in _chunks(list(dict.fromkeys(work_ids))):
        query = select(*_STATUS_COLUMNS).where(work.c.id.in_(chunk))
        if tx.lock_rows:
            query = query.with_for_update()
        rows.update((row.id, row) for row in tx.connection.execute(query))
    return rows


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
    _count_for_breaker(tx, row, outcome)

    if outcome.kind is ResultKind.SUCCESS:
        _finish(tx, row, outcome, attempts=row.attempt)
        return
    if row.cancel_requested:
        _finish(tx, row, Outcome(ResultKind.CANCELED), attempts=row.attempt)
        return
    if outcome.kind is ResultKind.CONTINUATION:
        _continue(tx, row, outcome)
        return
    # Attempts since the last continuation: each continuation starts a fresh
    # retry budget.
    budget_used = row.attempt - row.budget_start
    if outcome.non_retryable or budget_used >= row.max_attempts:
        _finish(tx, row, outcome, attempts=row.attempt)
        return

    policy = RetryPolicy(
        row.max_attempts, row.initial_backoff_us, row.backoff_base, row.max_backoff_us
    )
    delay = backoff_us(policy, budget_used, tx.random())
    tx._retried.append(
        {
            "row_seq": row.seq,
            "state": WorkState.PENDING,
            "ready_at_us": tx.now_us + delay,
            "rank_us": _rank_us(tx, row, tx.now_us + delay),
            "lease_owner": None,
            "lease_expires_at_us": None,
            "deadline_us": None,
            "borrowed_from": None,
            "last_error": outcome.error.encode("utf-8", "surrogatepass"),
        }
    )
    tx.effects.count(tx.effects.retried, row.pool)


def _rank_us(tx: Tx, row: Row, ready_at_us: int) -> int:
    settings = tx.pool(row.pool)
    aging = settings.priority_aging_us if settings is not None else 1_000_000
    return ready_at_us - row.priority * aging


def _continue(tx: Tx, row: Row, outcome: Outcome) -> None:
    """Make the item ready again at once with the continuation's args."""
    tx.connection.execute(
        update(work)
        .where(work.c.seq == row.seq)
        .values(
            state=WorkState.PENDING,
            args=outcome.continuation_args,
            ready_at_us=tx.now_us,
            rank_us=_rank_us(tx, row, tx.now_us),
            lease_owner=None,
            lease_expires_at_us=None,
            deadline_us=None,
            borrowed_from=None,
            continuations=work.c.continuations + 1,
            budget_start=row.attempt,
        )
    )


def _record_attempt_end(
    tx: Tx, row: Row, outcome: Outcome, attempt_outcome: AttemptOutcome
) -> None:
    if outcome.kind is ResultKind.SUCCESS:
        attempt_outcome = AttemptOutcome.SUCCESS
    elif outcome.kind is ResultKind.CONTINUATION:
        attempt_outcome = AttemptOutcome.CONTINUED
    elif row.cancel_requested:
        attempt_outcome = AttemptOutcome.CANCELED
    tx._attempt_ends.append(
        attempt_history.attempt_end(
            row.id, row.attempt, attempt_outcome, outcome.error, tx.now_us
        )
    )


def _count_for_breaker(tx: Tx, row: Row, outcome: Outcome) -> None:
    """Record the attempt's end for its pool's circuit breaker, if it has one.

    Follow-ups and attempts that end an item as canceled do not count.
    """
    settings = tx.pool(row.pool)
    if settings is None or settings.circuit_breaker is None:
        return
    if row.lane != Lane.NORMAL:
        return
    failed = outcome.kind is ResultKind.FAILURE
    if failed and row.cancel_requested:
        return
    scheduling.record_breaker_attempt(tx.connection, row, tx.now_us, failed)


def _finish(tx: Tx, row: Row, outcome: Outcome, attempts: int) -> None:
    settings = tx.pool(row.pool)
    ttl = settings.status_ttl_us if settings is not None else None
    error = outcome.error.encode("utf-8", "surrogatepass")
    tx._finished.append(
        {
            "row_seq": row.seq,
            "state": WorkState.FINISHED,
            "lease_owner": None,
            "lease_expires_at_us": None,
            "deadline_us": None,
            "borrowed_from": None,
            "result_kind": outcome.kind,
            "return_value": outcome.return_value,
            "non_retryable": outcome.non_retryable,
            "last_error": (
                error if outcome.kind is ResultKind.FAILURE else row.last_error
            ),
            "finished_at_us": tx.now_us,
            "expires_at_us": None if ttl is None else tx.now_us + ttl,
        }
    )
    if ttl is not None:
        tx.effects.expires(tx.now_us + ttl)
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
            "continuations": row.continuations,
        }
    )
    if row.on_complete_function:
        _insert_follow_up(tx, row, outcome)


def _insert_follow_up(tx: Tx, row: Row, outcome: Outcome) -> None:
    settings = tx.pool(row.pool)
    policy = settings.default_retry if settings is not None else RetryPolicy()
    args = tx.build_follow_up_args(row.id, row.on_complete_context, outcome)
    tx._follow_ups.append(
        {
            "id": tx.ids.new_id(tx.now_us),
            "pool": row.pool,
            "function": row.on_complete_function,
            "args": args,
            "state": WorkState.PENDING,
            "lane": Lane.FOLLOW_UP,
            "ready_at_us": tx.now_us,
            "rank_us": tx.now_us,
            "enqueued_at_us": tx.now_us,
            "attempt": 0,
            "max_attempts": policy.max_attempts,
            "initial_backoff_us": policy.initial_backoff_us,
            "backoff_base": policy.base,
            "max_backoff_us": policy.max_backoff_us,
            "cancel_requested": False,
        }
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
        continuations=entry.get("continuations") or 0,
    )


# Leases


def renew_leases(
    tx: Tx, owner: str, work_ids: Sequence[str], lease_us: int
) -> set[str]:
    """Extend the leases `owner` holds; return the ids it no longer holds."""
    requested = list(dict.fromkeys(work_ids))
    owned_ids: set[str] = set()
    for chunk in _chunks(requested):
        owned = list(
            tx.connection.execute(
                select(work.c.id).where(
                    work.c.id.in_(chunk),
                    work.c.state == WorkState.RUNNING,
                    work.c.lease_owner == owner,
                )
            ).scalars()
        )
        if owned:
            tx.connection.execute(
                update(work)
                .where(work.c.id.in_(owned), work.c.lease_owner == owner)
                .values(lease_expires_at_us=tx.now_us + lease_us)
            )
        owned_ids.update(owned)
    return set(requested) - owned_ids


# Ids per IN list, well under the bound parameters SQLite allows in one
# statement (32,766 by default since 3.32) and PostgreSQL's 65,535, because
# a worker stream's merged messages can name any number of items.
IN_LIST_SIZE = 500


def _chunks(values: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), IN_LIST_SIZE):
        yield values[start : start + IN_LIST_SIZE]


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
                CancelNotice(
                    row.id, row.attempt, row.lease_owner, CancelCause.LEASE_LOST
                )
            )
        _end_attempt(tx, row, Outcome(ResultKind.FAILURE, error=error), attempt_outcome)
        count += 1
    tx.flush()
    return count


def expire_deadlines(tx: Tx, limit: int) -> int:
    """End attempts that ran past their attempt timeout, at most `limit`.

    Each ends as a failure, retried per the item's policy, and its worker
    gets a cancel request with the TIMEOUT reason.

    NOTE: a replica wakes for the deadlines it read at its last pass. The
    replica that leased the attempt wakes at its deadline, and the others
    find it at their next pass, as with lease expiry.
    """
    query = (
        select(*_STATUS_COLUMNS)
        .where(
            work.c.state == WorkState.RUNNING,
            work.c.deadline_us.is_not(None),
            work.c.deadline_us <= tx.now_us,
        )
        .order_by(work.c.deadline_us)
        .limit(limit)
    )
    if tx.lock_rows:
        query = query.with_for_update(skip_locked=True)
    rows = tx.connection.execute(query).all()
    for row in rows:
        if row.lease_owner:
            tx.effects.cancels.append(
                CancelNotice(row.id, row.attempt, row.lease_owner, CancelCause.TIMEOUT)
            )
        ran_us = row.deadline_us - (row.started_at_us or row.deadline_us)
        error = f"attempt timed out after {_seconds_text(ran_us)}"
        _end_attempt(
            tx,
            row,
            Outcome(ResultKind.FAILURE, error=error),
            AttemptOutcome.TIMED_OUT,
        )
    tx.flush()
    return len(rows)


def _seconds_text(micros: int) -> str:
    """Format a duration as seconds, such as "2s" or "0.25s"."""
    return f"{micros / 1_000_000:g}s"


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
    tx.effects.cancels.append(
        CancelNotice(row.id, row.attempt, row.lease_owner, CancelCause.REQUESTED)
    )
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
    # The oldest entry comes from completions_finished_idx. The query below
    # walks the log in sequence order and would read all of it on every
    # dispatch pass when nothing has expired.
    oldest = oldest_completion_us(tx.connection)
    if oldest is None or oldest >= cutoff_us:
        return 0

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
        concurrency_key=row.concurrency_key,
        priority=row.priority,
        continuations=row.continuations,
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
    pool: PoolSettings | None = None
    breaker: gates.BreakerState | None = None
    next_token_us: int | None = None
    """Time of the next rate-limit token, set while the bucket is empty."""
    key_running_ids: list[str] = field(default_factory=list)
    key_running_count: int = 0
    parent_idle: int = 0


def wait_facts(connection: Connection, work_id: str, now_us: int) -> WaitFacts | None:
    row = connection.execute(
        select(*_STATUS_COLUMNS).where(work.c.id == work_id)
    ).first()
    if row is None:
        return None
    pool_row = connection.execute(select(pools).where(pools.c.name == row.pool)).first()
    max_parallelism = pool_row.max_parallelism if pool_row is not None else None
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
    # Slots in use: the pool's own running items and those it lends.
    running_count = scheduling.own_running(
        connection, row.pool
    ) + scheduling.lent_running(connection, row.pool)
    ahead = 0
    if row.state == WorkState.PENDING and row.ready_at_us <= now_us:
        rank = connection.execute(
            select(work.c.rank_us).where(work.c.seq == row.seq)
        ).scalar_one()
        ahead = connection.execute(
            select(func.count()).where(
                work.c.pool == row.pool,
                work.c.function == row.function,
                work.c.lane == row.lane,
                work.c.state == WorkState.PENDING,
                work.c.ready_at_us <= now_us,
                (work.c.rank_us < rank)
                | ((work.c.rank_us == rank) & (work.c.seq < row.seq)),
            )
        ).scalar_one()
    scheduling_facts = (
        _scheduling_facts(connection, row, pool_row, now_us)
        if pool_row is not None
        else {}
    )
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
        **scheduling_facts,
    )


def _scheduling_facts(
    connection: Connection, row: Row, pool_row: Row, now_us: int
) -> dict:
    """Read the pool's gates and the item's key count, for Explain."""
    settings = pool_from_row(pool_row)
    facts: dict = {"pool": settings}
    if settings.circuit_breaker is not None:
        facts["breaker"] = scheduling.current_breaker(
            connection, settings.circuit_breaker, pool_row, now_us
        )
    if settings.rate_limit is not None:
        bucket = gates.refill(
            settings.rate_limit, scheduling.stored_bucket(pool_row), now_us
        )
        if gates.whole_tokens(bucket) < 1:
            facts["next_token_us"] = gates.next_token_us(settings.rate_limit, bucket)
    if settings.max_per_key and row.concurrency_key is not None:
        counts = scheduling.running_by_key(connection, row.pool)
        facts["key_running_count"] = counts.get(row.concurrency_key, 0)
        facts["key_running_ids"] = scheduling.running_ids_of_key(
            connection, row.pool, row.concurrency_key, 20
        )
    if settings.parent is not None:
        parent = connection.execute(
            select(pools.c.max_parallelism).where(pools.c.name == settings.parent)
        ).scalar()
        if parent is not None:
            used = scheduling.own_running(
                connection, settings.parent
            ) + scheduling.lent_running(connection, settings.parent)
            facts["parent_idle"] = max(parent - used, 0)
    return facts


def scheduling_stats(connection: Connection, name: str, now_us: int) -> SchedulingStats:
    pool_row = connection.execute(select(pools).where(pools.c.name == name)).first()
    if pool_row is None:
        raise NotFoundError(pool_not_found_message(name))
    settings = pool_from_row(pool_row)
    state = None
    open_until = None
    if settings.circuit_breaker is not None:
        breaker = scheduling.current_breaker(
            connection, settings.circuit_breaker, pool_row, now_us
        )
        state = breaker.state
        if breaker.state is CircuitState.OPEN:
            open_until = breaker.open_until_us
    return SchedulingStats(
        state, open_until, scheduling.borrowed_running(connection, name)
    )


def circuit_states(
    connection: Connection, now_us: int
) -> dict[str, gates.BreakerState]:
    """Return the breaker state of every pool that has a breaker."""
    rows = connection.execute(
        select(pools).where(pools.c.breaker_failure_rate.is_not(None))
    )
    states = {}
    for pool_row in rows.all():
        breaker = pool_from_row(pool_row).circuit_breaker
        if breaker is not None:
            states[pool_row.name] = scheduling.current_breaker(
                connection, breaker, pool_row, now_us
            )
    return states


def borrowed_counts(connection: Connection) -> dict[str, int]:
    """Return, per pool, its running items on slots borrowed from its parent."""
    rows = connection.execute(
        select(work.c.pool, func.count())
        .where(work.c.state == WorkState.RUNNING, work.c.borrowed_from.is_not(None))
        .group_by(work.c.pool)
    )
    return {name: count for name, count in rows}


def get_statuses(
    connection: Connection, work_ids: Sequence[str]
) -> dict[str, WorkStatusView]:
    rows = connection.execute(select(*_STATUS_COLUMNS).where(work.c.id.in_(work_ids)))
    return {row.id: _status_from_row(row) for row in rows}


def recent_failures(
    connection: Connection, pool_name: str, scan: int, limit: int
) -> list[dict]:
    """Return the newest failed completions of a pool, newest first, among
    the newest `scan` entries of the log."""
    newest = connection.execute(select(func.max(completions.c.sequence))).scalar()
    if newest is None:
        return []
    rows = connection.execute(
        select(
            completions.c.sequence,
            completions.c.work_id,
            completions.c.function,
            completions.c.attempts,
            completions.c.finished_at_us,
            completions.c.non_retryable,
            completions.c.error,
        )
        .where(
            completions.c.sequence > newest - scan,
            completions.c.pool == pool_name,
            completions.c.result_kind == ResultKind.FAILURE,
        )
        .order_by(completions.c.sequence.desc())
        .limit(limit)
    )
    return [
        {
            **row._asdict(),
            "error": (row.error or b"").decode("utf-8", "replace"),
        }
        for row in rows
    ]


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


def read_completions_within(
    connection: Connection, after_sequence: int, limit: int, max_bytes: int
) -> list[CompletionRecord]:
    """Read up to `limit` completions after `after_sequence`, stopping before
    their payloads exceed `max_bytes`, but always at least one.

    A first query reads only the sizes, so a page of large results is never
    loaded whole.
    """
    payload_bytes = (
        func.coalesce(func.length(completions.c.return_value), 0)
        + func.coalesce(func.length(completions.c.context), 0)
        + func.coalesce(func.length(completions.c.error), 0)
    )
    sizes = connection.execute(
        select(payload_bytes)
        .where(completions.c.sequence > after_sequence)
        .order_by(completions.c.sequence)
        .limit(limit)
    ).scalars()
    count = 0
    total = 0
    for size in sizes:
        total += size
        if count and total > max_bytes:
            break
        count += 1
    if count == 0:
        return []
    return read_completions(connection, after_sequence, count)


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
