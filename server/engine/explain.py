"""Explain: why one work item is not running now."""

from __future__ import annotations

from collections.abc import Iterable

from workpool_server.clock import from_micros
from workpool_server.engine.model import (
    CircuitState,
    Explanation,
    Lane,
    WaitReason,
    WorkState,
)
from workpool_server.engine.sessions import WorkerSession
from workpool_server.store.queries import WaitFacts


def _at(micros: int) -> str:
    return from_micros(micros).isoformat(timespec="milliseconds")


def explain(
    facts: WaitFacts, now_us: int, sessions: Iterable[WorkerSession]
) -> Explanation:
    """Pick the first reason that keeps the item from running.

    Workers are those connected to this server process; on PostgreSQL,
    workers of other replicas may serve the item too.
    """
    status = facts.status
    if status.state is WorkState.FINISHED:
        kind = status.result.kind.name.lower() if status.result else "unknown"
        return Explanation(
            WaitReason.FINISHED,
            f"finished with {kind} at {_at(status.finished_at_us or 0)}",
            status,
        )
    if status.state is WorkState.RUNNING:
        since = facts.started_at_us or now_us
        return Explanation(
            WaitReason.RUNNING,
            f"leased to worker stream {facts.lease_owner} since {_at(since)}, "
            f"attempt {status.previous_attempts + 1}",
            status,
            worker_id=facts.lease_owner or "",
            since_us=since,
        )
    if facts.ready_at_us > now_us:
        if status.previous_attempts > 0:
            return Explanation(
                WaitReason.BACKING_OFF,
                f"attempt {status.previous_attempts} failed "
                f"({status.last_error}); the retry waits until "
                f"{_at(facts.ready_at_us)}",
                status,
                until_us=facts.ready_at_us,
            )
        return Explanation(
            WaitReason.SCHEDULED,
            f"scheduled to start at {_at(facts.ready_at_us)}",
            status,
            until_us=facts.ready_at_us,
        )
    if facts.lane is Lane.NORMAL and facts.max_parallelism == 0:
        return Explanation(
            WaitReason.POOL_PAUSED,
            f"pool {status.pool!r} is paused (max_parallelism 0): raise "
            "max_parallelism to start its work",
            status,
        )
    if facts.lane is Lane.NORMAL:
        gate = _gate_reason(facts)
        if gate is not None:
            return gate

    return _worker_reason(facts, sessions)


def _gate_reason(facts: WaitFacts) -> Explanation | None:
    """Return the pool setting that keeps a ready normal item from starting, if any."""
    status = facts.status
    breaker = facts.breaker
    if breaker is not None and breaker.state is CircuitState.OPEN:
        until = breaker.open_until_us or 0
        return Explanation(
            WaitReason.CIRCUIT_OPEN,
            f"pool {status.pool!r} has its circuit breaker open after too many "
            f"failed attempts; one probe attempt may start at {_at(until)}",
            status,
            until_us=until,
        )
    if (
        breaker is not None
        and breaker.state is CircuitState.HALF_OPEN
        and breaker.probe_work_id is not None
        and breaker.probe_work_id != status.work_id
    ):
        return Explanation(
            WaitReason.CIRCUIT_OPEN,
            f"pool {status.pool!r} has its circuit breaker half-open: probe "
            f"{breaker.probe_work_id} runs, and its result closes or reopens it",
            status,
            running_work_ids=(breaker.probe_work_id,),
        )

    limit = facts.max_parallelism or 0
    if facts.running_count >= limit and facts.parent_idle <= 0:
        return Explanation(
            WaitReason.POOL_AT_LIMIT,
            f"pool {status.pool!r} runs {_count(facts.running_count, 'item')}, its "
            f"max_parallelism of {limit}; the item starts when one finishes",
            status,
            running_work_ids=tuple(facts.running_ids),
        )
    pool = facts.pool
    if (
        pool is not None
        and pool.max_per_key
        and status.concurrency_key is not None
        and facts.key_running_count >= pool.max_per_key
    ):
        return Explanation(
            WaitReason.KEY_AT_LIMIT,
            f"{_count(facts.key_running_count, 'item')} with concurrency key "
            f"{status.concurrency_key!r} "
            f"{'runs' if facts.key_running_count == 1 else 'run'}, the pool's "
            f"max_per_key of {pool.max_per_key}; the item starts when one finishes",
            status,
            running_work_ids=tuple(facts.key_running_ids),
        )
    if facts.next_token_us is not None:
        return Explanation(
            WaitReason.RATE_LIMITED,
            f"pool {status.pool!r} used its rate limit; the next start is allowed "
            f"at {_at(facts.next_token_us)}",
            status,
            until_us=facts.next_token_us,
        )
    return None


def _count(number: int, noun: str) -> str:
    """Return "1 item" or "3 items"."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _worker_reason(facts: WaitFacts, sessions: Iterable[WorkerSession]) -> Explanation:
    status = facts.status
    serving = [
        session
        for session in sessions
        if not session.closed
        and status.pool in session.pools
        and status.function in session.functions
    ]
    if not serving:
        return Explanation(
            WaitReason.NO_WORKER,
            f"no connected worker serves function {status.function!r} in pool "
            f"{status.pool!r}: start one that registers it",
            status,
        )
    if all(session.credits <= 0 for session in serving):
        return Explanation(
            WaitReason.WORKERS_BUSY,
            f"{_count(len(serving), 'connected worker')} "
            f"{'serves' if len(serving) == 1 else 'serve'} "
            f"{status.function!r}, and "
            "none has a free slot",
            status,
        )
    return Explanation(
        WaitReason.QUEUED,
        f"ready; {_count(facts.ahead_count, 'earlier item')} of {status.function!r} "
        "start first",
        status,
        ahead_count=facts.ahead_count,
    )
