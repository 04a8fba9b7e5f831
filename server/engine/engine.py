"""The engine: enqueue, dispatch, results, leases, cancel and retention.

All changes go through the group-commit writer; reads use their own
connections. One dispatch loop per process leases ready work to the worker
streams that have free slots. It wakes on events (enqueue, result, credit,
pool change) and on the clock (the next due item, lease expiry or status
expiry), never on a fixed polling tick.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import Connection
from sqlalchemy import Engine as SqlEngine

from workpool_server.clock import Clock
from workpool_server.engine.completions import (
    DEFAULT_RING_ENTRIES,
    CompletionHub,
    record_bytes,
)
from workpool_server.engine.explain import explain
from workpool_server.engine.model import (
    AttemptReport,
    AttemptView,
    CancelCause,
    CancelOutcome,
    CircuitState,
    CompletionRecord,
    Effects,
    Explanation,
    NewWork,
    PoolSettings,
    ResultAck,
    SchedulingStats,
    WorkStatusView,
)
from workpool_server.engine.scaling import (
    DEFAULT_RUN_SECONDS,
    ActivityTally,
    WorkerCounts,
    count_workers,
    desired_workers,
)
from workpool_server.engine.sessions import WorkerSession
from workpool_server.errors import OutOfRangeError, UnavailableError
from workpool_server.ids import WorkIdGenerator
from workpool_server.metrics import Metrics
from workpool_server.store import attempts as attempt_history
from workpool_server.store import queries
from workpool_server.store.database import Writer
from workpool_server.store.notify import (
    CANCEL_CHANNEL,
    COMPLETIONS_CHANNEL,
    WAKE_CHANNEL,
    Listener,
)
from workpool_server.store.queries import FollowUpArgsBuilder, Tx, WorkerSlots
from workpool_server.tracing import Tracing

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Rows one maintenance step may touch, so a large backlog of expired leases
# or statuses never makes one transaction long.
MAINTENANCE_BATCH = 1_000
# The maximum time between maintenance steps of a server alone on its
# database, which bounds the delay of an expiry the due time missed.
MAINTENANCE_INTERVAL_US = 1_000_000
CANCEL_ALL_PAGE = 500
COMPLETION_PAGE = 1_000
GAUGE_REFRESH_SECONDS = 5.0
# Values of workpool_pool_circuit_state; a pool without a breaker reports 0.
CIRCUIT_GAUGE_VALUES = {
    CircuitState.CLOSED: 0,
    CircuitState.OPEN: 1,
    CircuitState.HALF_OPEN: 2,
}
# Completions per WatchCompletions message are capped by size, so a message
# stays under gRPC's default 4 MiB receive limit of clients that keep it.
# One completion with the largest payloads still goes out alone.
WATCH_MESSAGE_BYTES = 2 * 1024 * 1024


@dataclass(frozen=True)
class EngineSettings:
    lease_us: int = 30_000_000
    heartbeat_interval_us: int = 10_000_000
    completion_retention_us: int | None = 24 * 3600 * 1_000_000
    lock_rows: bool = False
    """Take row locks (FOR UPDATE, SKIP LOCKED); needed on PostgreSQL."""
    database_clock: bool = False
    """Judge due times and leases by the database's clock, not this host's."""
    replicated: bool = False
    """Other replicas share the database: exchange LISTEN/NOTIFY messages."""
    completion_buffer: int = DEFAULT_RING_ENTRIES
    """Recent completions kept in memory for WatchCompletions streams."""


class Engine:
    def __init__(
        self,
        *,
        settings: EngineSettings,
        writer: Writer,
        reader: SqlEngine,
        clock: Clock,
        metrics: Metrics,
        build_follow_up_args: FollowUpArgsBuilder,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.metrics = metrics
        self.hub = CompletionHub(max_entries=settings.completion_buffer)
        self._writer = writer
        self._reader = reader
        self._read_pool = ThreadPoolExecutor(4, thread_name_prefix="workpool-reader")
        self._build_follow_up_args = build_follow_up_args
        self._ids = WorkIdGenerator()
        self._sessions: dict[str, WorkerSession] = {}
        self._activity = ActivityTally()
        self._worker_series: set[tuple[str, str]] = set()
        self._worker_pools: set[str] = set()
        self._last_gauge_refresh: float | None = None
        self._wake = asyncio.Event()
        self._shutdown = asyncio.Event()
        self._dispatching = True
        # Order in which pools last received an assignment: the pool served
        # least recently gets the first free slot of the next claim.
        self._last_served: dict[str, int] = {}
        self._assignment_counter = 0
        # When the dispatch pass must next expire leases, deadlines and
        # statuses. Other replicas write expiries this one does not see, so
        # replicated servers run the step on every pass.
        self._maintenance_due_us = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._background: set[asyncio.Task] = set()
        self.replica_id = uuid.uuid4().hex[:12]
        # Set when the completion log may have grown; only used by replicas,
        # which read new entries back from the database in sequence order.
        self._log_changed = asyncio.Event()
        self._listener: Listener | None = None
        self._database_url: str | None = None
        # Replaced by the server when tracing is on.
        self.tracing: Tracing = Tracing()

    def enable_replication(self, database_url: str) -> None:
        """Exchange notifications with other replicas through PostgreSQL."""
        self._database_url = database_url

    # Life cycle

    async def start(self) -> None:
        head = await self.read(queries.head_sequence)
        self.hub.reset(head)
        if self.settings.replicated and self._database_url is not None:
            self._listener = Listener(
                self._database_url,
                asyncio.get_running_loop(),
                self._on_notify,
                self._on_listener_reconnect,
            )
            await asyncio.to_thread(self._listener.start)
        self._tasks = [
            asyncio.create_task(self._dispatch_loop(), name="workpool-dispatch"),
            asyncio.create_task(self._gauge_loop(), name="workpool-gauges"),
        ]
        if self.settings.replicated:
            self._tasks.append(
                asyncio.create_task(self._follow_log(), name="workpool-log-follower")
            )

    @property
    def draining(self) -> bool:
        return self._shutdown.is_set()

    def begin_shutdown(self) -> None:
        """Stop dispatch at once, end watch streams and reject new work."""
        self._dispatching = False
        self._shutdown.set()
        self._wake.set()

    async def drain(self, grace_seconds: float) -> None:
        """Wait up to the grace period for workers to report running items."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace_seconds
        while loop.time() < deadline:
            if not any(session.running for session in self._sessions.values()):
                break
            await asyncio.sleep(0.05)
        for session in self._sessions.values():
            session.end()

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._listener is not None:
            await asyncio.to_thread(self._listener.stop)
        self._read_pool.shutdown(wait=False, cancel_futures=True)

    # Plumbing

    async def read(self, function: Callable[[Connection], T]) -> T:
        def run() -> T:
            with self._reader.connect() as connection:
                return function(connection)

        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._read_pool, run)

    async def _write(self, function: Callable[[Tx], T]) -> T:
        """Run `function` in a writer transaction and apply its effects."""
        now_us = self.clock.now_us()
        settings = self.settings

        def run(connection: Connection) -> tuple[T, Effects]:
            tx = Tx(
                connection=connection,
                now_us=(
                    queries.database_now_us(connection)
                    if settings.database_clock
                    else now_us
                ),
                random=self.clock.random,
                build_follow_up_args=self._build_follow_up_args,
                ids=self._ids,
                lock_rows=self.settings.lock_rows,
            )
            value = function(tx)
            tx.flush()
            if settings.replicated:
                self._notify_replicas(tx)
            return value, tx.effects

        # Effects apply when the transaction commits, not when this coroutine
        # resumes: a caller cancelled meanwhile (a closed stream, a client
        # that went away) must not keep a committed completion from the hub.
        return await self._writer.run(run, on_commit=self._apply_committed)

    def _apply_committed(self, committed: tuple[T, Effects]) -> T:
        value, effects = committed
        self._apply(effects)
        return value

    def _apply(self, effects: Effects) -> None:
        metrics = self.metrics
        for pool, count in effects.enqueued.items():
            metrics.enqueued.labels(metrics.pool(pool)).inc(count)
        for pool, count in effects.retried.items():
            metrics.retries.labels(metrics.pool(pool)).inc(count)
        for pool, seconds in effects.run_durations:
            label = metrics.pool(pool)
            metrics.run_duration.labels(label).observe(seconds)
            self._activity.record_run(label, seconds)
        for record in effects.completions:
            result = record.outcome.kind.name.lower()
            metrics.completed.labels(metrics.pool(record.pool), result).inc()
        if self.settings.replicated:
            if effects.completions:
                self._log_changed.set()
        else:
            self.hub.publish(effects.completions)

        for notice in effects.cancels:
            session = self._sessions.get(notice.lease_owner)
            if session is not None:
                session.send_cancel(notice.work_id, notice.attempt, notice.cause)
        if effects.wake_dispatch:
            self._wake.set()

        # Effects apply in commit order, so an expiry that a transaction
        # committed after a dispatch pass still lowers that pass's due time.
        if effects.maintenance_due_us is not None:
            self._maintenance_due_us = effects.maintenance_due_us
        if effects.expiry_us is not None:
            self._maintenance_due_us = min(self._maintenance_due_us, effects.expiry_us)

    # Replication

    def _notify_replicas(self, tx: Tx) -> None:
        """Queue notifications for the other replicas in `tx`."""
        effects = tx.effects
        if effects.wake_dispatch:
            queries.notify(tx.connection, WAKE_CHANNEL, self.replica_id)
        if effects.completions:
            last = effects.completions[-1].sequence
            queries.notify(tx.connection, COMPLETIONS_CHANNEL, str(last))
        for notice in effects.cancels:
            payload = " ".join(
                (
                    self.replica_id,
                    notice.lease_owner,
                    notice.work_id,
                    str(notice.attempt),
                    notice.cause.name.lower(),
                )
            )
            queries.notify(tx.connection, CANCEL_CHANNEL, payload)

    def _on_notify(self, channel: str, payload: str) -> None:
        if channel == COMPLETIONS_CHANNEL:
            self._log_changed.set()
            return
        origin, _, rest = payload.partition(" ")
        if origin == self.replica_id:
            return
        if channel == WAKE_CHANNEL:
            self._wake.set()
        elif channel == CANCEL_CHANNEL:
            owner, work_id, attempt, cause = rest.split(" ")
            session = self._sessions.get(owner)
            if session is not None:
                session.send_cancel(work_id, int(attempt), _cancel_cause(cause))

    def _on_listener_reconnect(self) -> None:
        # Notifications sent while the listener was away are lost.
        self._log_changed.set()
        self._wake.set()

    async def _follow_log(self) -> None:
        """Publish the log's new entries, read back in sequence order.

        Replicas commit completions in sequence order (each takes the next
        sequence under a row lock), so reading after the hub's head never
        skips an entry that commits later.
        """
        while True:
            await self._log_changed.wait()
            self._log_changed.clear()
            try:
                await self._catch_up()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning(
                    "completion log read failed",
                    extra={"event": "log_follow_failed"},
                    exc_info=True,
                )
                await asyncio.sleep(1)
                self._log_changed.set()

    async def _catch_up(self) -> None:
        """Publish every committed completion past the hub's head."""
        while True:
            head = self.hub.head
            # TODO: pages here are bounded by count only, so one read may hold
            # 1,000 completions of up to twice max_payload_bytes each.
            records = await self.read(
                lambda c, head=head: queries.read_completions(c, head, COMPLETION_PAGE)
            )
            if not records:
                return
            self.hub.publish(records)

    # Pools

    async def create_pool(self, settings: PoolSettings) -> PoolSettings:
        await self._write(
            lambda tx: queries.create_pool(tx.connection, settings, tx.now_us)
        )
        logger.info(
            "pool created", extra={"event": "pool_created", "pool": settings.name}
        )
        return settings

    async def put_pool(self, settings: PoolSettings) -> None:
        await self._write(
            lambda tx: queries.put_pool(tx.connection, settings, tx.now_us)
        )
        self._wake.set()

    async def get_pool(self, name: str) -> tuple[PoolSettings, tuple[int, int]]:
        def load(connection: Connection) -> tuple[PoolSettings, tuple[int, int]]:
            return queries.get_pool(connection, name), queries.pool_stats(
                connection, name
            )

        return await self.read(load)

    async def scheduling_stats(self, name: str) -> SchedulingStats:
        """Return the pool's breaker state and borrowed count."""
        now_us = await self._now_us()
        return await self.read(lambda c: queries.scheduling_stats(c, name, now_us))

    async def _now_us(self) -> int:
        """Return the time that due times are judged by: the database's on
        PostgreSQL replicas, this host's otherwise."""
        if self.settings.database_clock:
            return await self.read(queries.database_now_us)
        return self.clock.now_us()

    async def existing_pools(self, names: Sequence[str]) -> set[str]:
        return await self.read(lambda c: queries.existing_pools(c, names))

    async def list_pools(self, after: str, limit: int) -> list[PoolSettings]:
        return await self.read(lambda c: queries.list_pools(c, after, limit))

    async def update_pool(
        self, name: str, change: Callable[[PoolSettings], PoolSettings]
    ) -> PoolSettings:
        def run(tx: Tx) -> PoolSettings:
            updated = change(queries.get_pool(tx.connection, name))
            queries.put_pool(tx.connection, updated, tx.now_us)
            return updated

        updated = await self._write(run)
        self._wake.set()
        logger.info("pool updated", extra={"event": "pool_updated", "pool": name})
        return updated

    async def delete_pool(self, name: str) -> None:
        await self._write(lambda tx: queries.delete_pool(tx.connection, name))
        logger.info("pool deleted", extra={"event": "pool_deleted", "pool": name})

    # Work

    def _reject_while_draining(self) -> None:
        if self.draining:
            raise UnavailableError(
                "the server is shutting down: retry on another replica or after "
                "it restarts"
            )

    async def enqueue(
        self, pool: str, items: Sequence[NewWork]
    ) -> tuple[list[tuple[str, bool]], int]:
        """Insert items all or none; return (id, deduplicated) pairs and the
        completion-log head at the time of the insert."""
        self._reject_while_draining()

        def run(tx: Tx) -> tuple[list[tuple[str, bool]], int]:
            head = queries.head_sequence(tx.connection)
            return queries.enqueue(tx, pool, items), head

        return await self._write(run)

    async def statuses(self, work_ids: Sequence[str]) -> dict[str, WorkStatusView]:
        return await self.read(lambda c: queries.get_statuses(c, work_ids))

    async def status_with_attempts(
        self, work_id: str
    ) -> tuple[WorkStatusView, list[AttemptView]] | None:
        """Read an item's status and attempt history in one transaction."""

        def load(connection: Connection):
            view = queries.get_statuses(connection, [work_id]).get(work_id)
            if view is None:
                return None
            return view, attempt_history.read_attempts(connection, work_id)

        return await self.read(load)

    async def explain(self, work_id: str) -> Explanation | None:
        now_us = self.clock.now_us()
        if self.settings.database_clock:
            now_us = await self.read(queries.database_now_us)
        facts = await self.read(lambda c: queries.wait_facts(c, work_id, now_us))
        if facts is None:
            return None
        return explain(facts, now_us, list(self._sessions.values()))

    async def cancel(self, work_id: str) -> CancelOutcome:
        outcome = await self._write(lambda tx: queries.cancel(tx, work_id))
        logger.info(
            "cancel handled",
            extra={"event": "cancel", "work_id": work_id, "outcome": outcome.name},
        )
        return outcome

    async def cancel_all(self, pool: str) -> tuple[int, int]:
        """Cancel the pool's items enqueued before this call, page by page."""

        def first_page(tx: Tx) -> tuple[int, tuple[int, int, int | None]]:
            queries.get_pool(tx.connection, pool)
            cutoff = queries.last_seq(tx.connection)
            return cutoff, queries.cancel_page(tx, pool, cutoff, 0, CANCEL_ALL_PAGE)

        cutoff, (canceled, requested, last) = await self._write(first_page)
        while last is not None:
            page = await self._write(
                lambda tx, after=last: queries.cancel_page(
                    tx, pool, cutoff, after, CANCEL_ALL_PAGE
                )
            )
            canceled += page[0]
            requested += page[1]
            last = page[2]

        logger.info(
            "pool canceled",
            extra={
                "event": "cancel_all",
                "pool": pool,
                "canceled": canceled,
                "cancel_requested": requested,
            },
        )
        return canceled, requested

    # Workers

    def open_session(
        self, name: str, pools: Sequence[str], functions: Sequence[str], capacity: int
    ) -> WorkerSession:
        session = WorkerSession(
            name=name,
            pools=frozenset(pools),
            functions=frozenset(functions),
            capacity=capacity,
        )
        self._sessions[session.owner] = session
        self.metrics.workers.set(len(self._sessions))
        self._set_worker_gauges()
        self._wake.set()
        logger.info(
            "worker connected",
            extra={
                "event": "worker_connected",
                "worker_id": session.owner,
                "worker_name": name,
                "capacity": capacity,
            },
        )
        return session

    async def recover_orphaned_leases(self) -> None:
        """End every running attempt as lost; only for a single server."""
        count = await self._write(queries.release_all)
        if count:
            logger.warning(
                "attempts of a previous server process recovered",
                extra={"event": "orphans_recovered", "attempts": count},
            )

    async def close_session(self, session: WorkerSession) -> None:
        """Forget a closed stream and end the attempts it still holds.

        While the server shuts down, leases are left to expire instead, so
        that a restart recovers them like any other crash.
        """
        session.closed = True
        self._sessions.pop(session.owner, None)
        self.metrics.workers.set(len(self._sessions))
        self._set_worker_gauges()
        lost = 0
        if not self.draining:
            lost = await self._write(
                lambda tx: queries.release_owner(tx, session.owner)
            )
        logger.info(
            "worker disconnected",
            extra={
                "event": "worker_disconnected",
                "worker_id": session.owner,
                "worker_name": session.name,
                "attempts_lost": lost,
            },
        )

    def add_credit(self, session: WorkerSession, count: int) -> None:
        # A worker never has more free slots than its capacity.
        session.credits = min(session.credits + count, session.capacity)
        self._wake.set()

    async def heartbeat(self, session: WorkerSession, work_ids: Sequence[str]) -> None:
        lease_us = self.settings.lease_us
        lost = await self._write(
            lambda tx: queries.renew_leases(tx, session.owner, work_ids, lease_us)
        )
        for work_id in lost:
            attempt = session.running.get(work_id, 0)
            session.send_cancel(work_id, attempt, CancelCause.LEASE_LOST)

    async def report(
        self, session: WorkerSession, reports: Sequence[AttemptReport]
    ) -> list[ResultAck]:
        for report in reports:
            if session.running.get(report.work_id) == report.attempt:
                del session.running[report.work_id]
        acks = await self._write(
            lambda tx: queries.record_results(tx, session.owner, reports)
        )
        session.send_acks(acks)
        self.tracing.complete(session.owner, reports, acks)
        for ack in acks:
            if not ack.accepted:
                logger.info(
                    "stale result ignored",
                    extra={
                        "event": "stale_result",
                        "work_id": ack.work_id,
                        "attempt": ack.attempt,
                        "worker_id": session.owner,
                    },
                )
        return acks

    # Completions

    async def watch(
        self, pools: Sequence[str], work_ids: Sequence[str], after: int | None
    ) -> AsyncIterator[tuple[int, list[CompletionRecord]]]:
        """Yield (head, completions) batches: first (head, []), then every
        matching completion after `after`, replayed and then live."""
        self._reject_while_draining()
        if self.settings.replicated:
            # Other replicas' completions reach this hub a moment after they
            # commit; a subscriber may already know of them.
            await self._catch_up()
        if after is None:
            after = self.hub.head
        else:
            await self._check_retained(after)

        pool_filter = frozenset(pools)
        id_filter = frozenset(work_ids)
        self.hub.subscribers += 1
        self.metrics.watchers.inc()
        try:
            yield self.hub.head, []
            cursor = after
            while True:
                if self.draining:
                    raise UnavailableError(
                        "the server is shutting down: reconnect and resume from "
                        f"after_sequence={cursor}"
                    )
                if cursor >= self.hub.head:
                    await self.hub.wait_beyond(cursor, self._shutdown)
                    continue

                records = await self._completions_after(cursor)
                cursor = records[-1].sequence
                matched = [
                    record
                    for record in records
                    if (not pool_filter or record.pool in pool_filter)
                    and (not id_filter or record.work_id in id_filter)
                ]
                for chunk in _chunks_by_size(matched, WATCH_MESSAGE_BYTES):
                    yield self.hub.head, chunk
        finally:
            self.hub.subscribers -= 1
            self.metrics.watchers.dec()

    async def _completions_after(self, cursor: int) -> list[CompletionRecord]:
        records = self.hub.since(cursor, COMPLETION_PAGE)
        if records:
            return records
        # Bounded by bytes too, because a stream keeps its page until a slow
        # reader has taken all of it.
        records = await self.read(
            lambda c: queries.read_completions_within(
                c, cursor, COMPLETION_PAGE, WATCH_MESSAGE_BYTES
            )
        )
        if not records or records[0].sequence != cursor + 1:
            raise _removed_error(cursor)
        return records

    async def _check_retained(self, after: int) -> None:
        if after > self.hub.head:
            raise OutOfRangeError(
                f"after_sequence {after} is beyond the end of the completion log "
                f"({self.hub.head})"
            )
        if after == self.hub.head:
            return
        first = await self.read(queries.first_retained_sequence)
        if first is None or first > after + 1:
            raise _removed_error(after)

    # Dispatch

    async def _dispatch_loop(self) -> None:
        while True:
            self._wake.clear()
            started_us = self.clock.now_us()
            try:
                delay_us = await self._dispatch_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.error(
                    "dispatch failed", extra={"event": "dispatch_failed"}, exc_info=True
                )
                delay_us = 1_000_000
            if self._wake.is_set():
                continue
            # The delay was computed on the transaction's clock, which is the
            # database's on PostgreSQL; waiting for a relative delay keeps a
            # skewed host clock from waking this loop late.
            deadline = None if delay_us is None else started_us + delay_us
            await self.clock.wait(self._wake, deadline)

    def _worker_slots(self) -> list[WorkerSlots]:
        if not self._dispatching:
            return []
        return [
            WorkerSlots(s.owner, s.credits, s.pools, s.functions, s.name)
            for s in self._sessions.values()
            if s.credits > 0 and not s.closed
        ]

    async def _dispatch_once(self) -> int | None:
        """Run one dispatch pass; return the delay until the next due event."""
        workers = self._worker_slots()
        served = {
            (pool, function)
            for session in self._sessions.values()
            for pool in session.pools
            for function in session.functions
        }
        pool_order = sorted(
            {pool for pool, _ in served},
            key=lambda pool: (self._last_served.get(pool, -1), pool),
        )
        lease_us = self.settings.lease_us
        retention_us = self.settings.completion_retention_us

        maintenance_due_us = self._maintenance_due_us
        if self.settings.replicated:
            maintenance_due_us = 0

        def run(tx: Tx) -> tuple[list, dict[str, str], int | None, bool]:
            expired = swept = 0
            if tx.now_us >= maintenance_due_us:
                expired = queries.expire_leases(tx, MAINTENANCE_BATCH)
                expired += queries.expire_deadlines(tx, MAINTENANCE_BATCH)
                swept = queries.sweep_expired(tx, MAINTENANCE_BATCH)
                if retention_us is not None:
                    swept += queries.sweep_completions(
                        tx, tx.now_us - retention_us, MAINTENANCE_BATCH
                    )
            assignments = (
                queries.claim(tx, workers, lease_us, pool_order) if workers else []
            )
            traces = self.tracing.stored_contexts(tx.connection, assignments)

            # Read after the claim, so the leases and deadlines it set count.
            times = [tx.now_us + MAINTENANCE_INTERVAL_US]
            expiry = queries.next_expiry_us(tx.connection)
            if expiry is not None:
                times.append(expiry)
            if retention_us is not None:
                oldest = queries.oldest_completion_us(tx.connection)
                if oldest is not None:
                    times.append(oldest + retention_us)
            more = expired >= MAINTENANCE_BATCH or swept >= MAINTENANCE_BATCH
            tx.effects.maintenance_due_us = tx.now_us if more else min(times)

            due = min(times[1:], default=None)
            ready = queries.next_ready_us(tx.connection, tx.now_us, served)
            # A rate-limit token or the end of a breaker's cool-down may let
            # waiting work start, so the loop wakes then instead of polling.
            gate_times = [at for at in tx.wake_at_us if at > tx.now_us]
            for at in (ready, *gate_times):
                if at is not None:
                    due = at if due is None else min(due, at)
            delay = None if due is None else max(due - tx.now_us, 0)
            return assignments, traces, delay, more

        assignments, traces, delay_us, more = await self._write(run)
        self._deliver(self.tracing.dispatch(assignments, traces))
        if more:
            self._wake.set()
        return delay_us

    def _deliver(self, assignments: list) -> None:
        orphaned: set[str] = set()
        now_us = self.clock.now_us()
        for assignment in assignments:
            session = self._sessions.get(assignment.lease_owner)
            if session is None or session.closed:
                orphaned.add(assignment.lease_owner)
                continue
            session.send_assignment(assignment)
            self._assignment_counter += 1
            self._last_served[assignment.pool] = self._assignment_counter
            pool = self.metrics.pool(assignment.pool)
            self.metrics.started.labels(pool).inc()
            self._activity.record_start(pool)
            lag = max(now_us - assignment.ready_at_us, 0) / 1_000_000
            self.metrics.start_lag.labels(pool).observe(lag)

        # The stream closed while the claim ran: end what it was just given.
        for owner in orphaned:
            task = asyncio.create_task(
                self._write(lambda tx, owner=owner: queries.release_owner(tx, owner))
            )
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _gauge_loop(self) -> None:
        while True:
            try:
                await self.refresh_gauges()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning(
                    "queue gauges refresh failed",
                    extra={"event": "gauges_failed"},
                    exc_info=True,
                )
            await asyncio.sleep(GAUGE_REFRESH_SECONDS)

    async def refresh_gauges(self) -> None:
        """Refresh the per-pool depth gauges, which need a full count, and
        the worker gauges and estimates that depend on them."""
        now_us = self.clock.now_us()
        gauges, limits, circuits = await self.read(
            lambda c, now_us=now_us: (
                queries.queue_gauges(c, now_us),
                queries.pool_limits(c),
                queries.circuit_states(c, now_us),
            )
        )
        now = asyncio.get_running_loop().time()
        previous = self._last_gauge_refresh
        self._last_gauge_refresh = now
        elapsed = GAUGE_REFRESH_SECONDS if previous is None else now - previous
        # Limits first: they give every pool its label, so that pools with
        # no work get their 0 series in the same refresh.
        self._set_limits(limits)
        self._set_gauges(gauges, now_us, elapsed)
        self._set_circuit_states(limits, circuits)

    def _set_circuit_states(self, limits: dict[str, int], circuits: dict) -> None:
        """Set the breaker gauge: 0 closed or no breaker, 1 open, 2 half-open.

        Pools that share the `_other` label report the highest value among them.
        """
        metrics = self.metrics
        values: dict[str, int] = {}
        for pool in limits:
            label = metrics.pool(pool)
            breaker = circuits.get(pool)
            value = 0 if breaker is None else CIRCUIT_GAUGE_VALUES[breaker.state]
            values[label] = max(values.get(label, 0), value)
        for label in metrics.pool_labels_seen():
            metrics.circuit_state.labels(label).set(values.get(label, 0))

    def _set_limits(self, limits: dict[str, int]) -> None:
        metrics = self.metrics
        totals: dict[str, int] = {}
        for pool, limit in limits.items():
            label = metrics.pool(pool)
            totals[label] = totals.get(label, 0) + limit
        # A deleted pool's series falls to 0 instead of keeping its old limit.
        for label in metrics.pool_labels_seen():
            metrics.max_parallelism.labels(label).set(totals.get(label, 0))

    def _set_gauges(self, gauges: dict, now_us: int, elapsed_seconds: float) -> None:
        """Set the queue gauges from `queue_gauges` rows, and the desired
        workers from them and the activity of the last `elapsed_seconds`."""
        metrics = self.metrics
        totals: dict[str, list[float]] = {}
        for pool, (pending, running, oldest, ready) in gauges.items():
            entry = totals.setdefault(metrics.pool(pool), [0, 0, 0.0, 0])
            entry[0] += pending
            entry[1] += running
            if oldest is not None:
                entry[2] = max(entry[2], (now_us - oldest) / 1_000_000)
            entry[3] += ready
        workers = self._set_worker_gauges()
        rates = self._activity.take(elapsed_seconds)
        for label in list(metrics.pool_labels_seen()):
            pending, running, age, ready = totals.get(label, [0, 0, 0.0, 0])
            metrics.pending.labels(label).set(pending)
            metrics.running.labels(label).set(running)
            metrics.oldest_ready_age.labels(label).set(age)
            start_rate, mean_run = rates.get(label, (0.0, DEFAULT_RUN_SECONDS))
            desired = desired_workers(
                int(ready), start_rate, mean_run, workers.mean_capacity(label)
            )
            metrics.desired_workers.labels(label).set(desired)

    def _set_worker_gauges(self) -> WorkerCounts:
        """Set the worker gauges from the open sessions and return the counts.

        Series that were set once stay at 0 when their last worker leaves, so
        alerts see 0 instead of a missing series. The pool and function label
        bounds keep their number finite.
        """
        metrics = self.metrics
        counts = count_workers(self._sessions.values(), metrics)
        self._worker_series |= set(counts.connected)
        self._worker_pools |= set(counts.slots_free)
        for pool, function in self._worker_series:
            value = counts.connected.get((pool, function), 0)
            metrics.workers_connected.labels(pool, function).set(value)
        for pool in self._worker_pools:
            metrics.worker_slots_free.labels(pool).set(counts.slots_free.get(pool, 0))
        return counts


def _chunks_by_size(
    records: list[CompletionRecord], limit: int
) -> Iterator[list[CompletionRecord]]:
    """Split records into runs of about `limit` bytes, at least one each."""
    chunk: list[CompletionRecord] = []
    size = 0
    for record in records:
        record_size = record_bytes(record)
        if chunk and size + record_size > limit:
            yield chunk
            chunk, size = [], 0
        chunk.append(record)
        size += record_size
    if chunk:
        yield chunk


# Replicas of the previous release send "1" for a lost lease and "0" for a
# cancel request.
_CANCEL_CAUSES = {"1": CancelCause.LEASE_LOST, "0": CancelCause.REQUESTED} | {
    cause.name.lower(): cause for cause in CancelCause
}


def _cancel_cause(text: str) -> CancelCause:
    return _CANCEL_CAUSES.get(text, CancelCause.REQUESTED)


def _removed_error(after: int) -> OutOfRangeError:
    return OutOfRangeError(
        f"completions after sequence {after} were removed by the completion log "
        "retention: resume from the oldest retained sequence or later, and read "
        "missed results with Status"
    )
