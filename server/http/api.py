"""The dashboard's JSON API: async handlers that run on the engine's loop.

Each handler returns a status code and a JSON-ready body, or raises a
WorkpoolError that `error_status` maps to an HTTP status.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from typing import Any

from prometheus_client import CollectorRegistry

from workpool_server.engine.engine import Engine
from workpool_server.engine.gates import BreakerState
from workpool_server.engine.model import (
    AttemptView,
    CancelOutcome,
    CircuitState,
    Explanation,
    PoolSettings,
    WorkStatusView,
)
from workpool_server.errors import (
    AlreadyExistsError,
    FailedPreconditionError,
    InvalidArgumentError,
    LimitExceededError,
    NotFoundError,
    UnavailableError,
    WorkpoolError,
    invalid,
)
from workpool_server.ids import is_valid_work_id
from workpool_server.limits import MAX_PARALLELISM_LIMIT, POOL_NAME_RULE, is_pool_name
from workpool_server.store import attempts as attempt_history
from workpool_server.store import queries

logger = logging.getLogger(__name__)

# list_pools reads pools by name in pages of this many.
POOL_PAGE = 1_000
COMPLETED_SAMPLE = "workpool_completed_total"
RETRIES_SAMPLE = "workpool_retries_total"
# Recent failures are searched for among this many newest completions, so
# a pool page costs the same however long the log is.
FAILURE_SCAN = 20_000
FAILURES_SHOWN = 20
ERROR_SHOWN_CHARS = 2_000

HTTP_STATUS: dict[type[WorkpoolError], int] = {
    InvalidArgumentError: 400,
    LimitExceededError: 400,
    NotFoundError: 404,
    AlreadyExistsError: 409,
    FailedPreconditionError: 409,
    UnavailableError: 503,
}

Reply = tuple[int, dict[str, Any]]


def error_status(error: WorkpoolError) -> int:
    """Return the HTTP status for a domain error; 500 for unmapped ones."""
    for kind, status in HTTP_STATUS.items():
        if isinstance(error, kind):
            return status
    return 500


async def list_pools(engine: Engine, registry: CollectorRegistry) -> Reply:
    """Return every pool with its settings, queue depth and oldest ready age."""
    now_us = await _now_us(engine)

    def load(connection) -> tuple[list[PoolSettings], dict]:
        found: list[PoolSettings] = []
        after = ""
        while True:
            page = queries.list_pools(connection, after, POOL_PAGE)
            found.extend(page)
            if len(page) < POOL_PAGE:
                break
            after = page[-1].name
        return found, (
            queries.queue_gauges(connection, now_us),
            queries.circuit_states(connection, now_us),
            queries.borrowed_counts(connection),
        )

    pools, (gauges, circuits, borrowed) = await engine.read(load)
    completed = _completed_by_label(registry)
    failed = _completed_by_label(registry, result="failure")
    retried = _completed_by_label(registry, sample_name=RETRIES_SAMPLE)
    rows = []
    for settings in pools:
        # The first three fields of a queue_gauges row are these; later ones
        # are extras for the metrics.
        pending, running, oldest_us = gauges.get(settings.name, (0, 0, None))[:3]
        label = engine.metrics.pool(settings.name)
        rows.append(
            {
                **_pool_settings(settings),
                "pending": pending,
                "running": running,
                "oldest_ready_age_seconds": (
                    None if oldest_us is None else (now_us - oldest_us) / 1_000_000
                ),
                # Pools past max_pool_labels share one metric series, so
                # their own count is unknown.
                "completed_total": (
                    completed.get(label, 0) if label == settings.name else None
                ),
                "failed_total": (
                    failed.get(label, 0) if label == settings.name else None
                ),
                "retried_total": (
                    retried.get(label, 0) if label == settings.name else None
                ),
                **_scheduling(circuits.get(settings.name), borrowed, settings),
            }
        )
    return 200, {"time_seconds": now_us / 1_000_000, "pools": rows}


async def set_parallelism(engine: Engine, name: str, body: Any) -> Reply:
    """Set one pool's max_parallelism: 0 pauses it, more resumes it."""
    if not is_pool_name(name):
        raise invalid("name", f"invalid pool name {name[:140]!r}: {POOL_NAME_RULE}")
    value = body.get("max_parallelism") if isinstance(body, dict) else None
    if value is None:
        raise invalid(
            "max_parallelism",
            "is required: send a JSON object such as "
            '{"max_parallelism": 4}, 0 to pause the pool',
        )
    # bool is a subclass of int in Python, and true is not a limit.
    if not isinstance(value, int) or isinstance(value, bool):
        raise invalid(
            "max_parallelism",
            f"must be a whole number such as 4, got {json.dumps(value)[:40]}",
        )
    if not 0 <= value <= MAX_PARALLELISM_LIMIT:
        raise invalid(
            "max_parallelism",
            f"must be between 0 (paused) and {MAX_PARALLELISM_LIMIT}, got {value}",
        )
    updated = await engine.update_pool(
        name, lambda current: dataclasses.replace(current, max_parallelism=value)
    )
    logger.info(
        "pool parallelism set from dashboard",
        extra={
            "event": "dashboard_pool_updated",
            "pool": name,
            "max_parallelism": value,
        },
    )
    return 200, {"pool": _pool_settings(updated)}


async def get_work(engine: Engine, work_id: str) -> Reply:
    """Return one work item's status, the reason it is not running now and
    its attempt history, oldest attempt first."""
    _check_work_id(work_id)
    explanation = await engine.explain(work_id)
    if explanation is None:
        raise NotFoundError(f"work item {work_id} not found: it may have expired")
    attempts = await engine.read(
        lambda connection: attempt_history.read_attempts(connection, work_id)
    )
    return 200, {
        "status": _status(explanation.status),
        "explain": _explanation(explanation),
        "attempts": [_attempt(attempt) for attempt in attempts],
    }


async def recent_failures(engine: Engine, name: str) -> Reply:
    """Return a pool's newest final failures, newest first, with their errors.

    Only the newest FAILURE_SCAN entries of the completion log are searched,
    so a pool whose last failure is older than that shows none.
    """
    if not is_pool_name(name):
        raise invalid("name", f"invalid pool name {name[:140]!r}: {POOL_NAME_RULE}")

    def load(connection) -> list[dict[str, Any]]:
        queries.get_pool(connection, name)
        return queries.recent_failures(connection, name, FAILURE_SCAN, FAILURES_SHOWN)

    entries = await engine.read(load)
    return 200, {
        "pool": name,
        "scanned_completions": FAILURE_SCAN,
        "failures": [
            {
                "sequence": entry["sequence"],
                "work_id": entry["work_id"],
                "function": entry["function"],
                "attempts": entry["attempts"],
                "finished_at_seconds": entry["finished_at_us"] / 1_000_000,
                "non_retryable": entry["non_retryable"],
                "error": entry["error"][:ERROR_SHOWN_CHARS],
            }
            for entry in entries
        ],
    }


async def cancel_work(engine: Engine, work_id: str) -> Reply:
    """Cancel one work item, as the gRPC Cancel does."""
    _check_work_id(work_id)
    outcome = await engine.cancel(work_id)
    if outcome is CancelOutcome.NOT_FOUND:
        raise NotFoundError(f"work item {work_id} not found: it may have expired")
    return 200, {"work_id": work_id, "outcome": outcome.name.lower()}


def _check_work_id(work_id: str) -> None:
    if not is_valid_work_id(work_id):
        raise invalid(
            "work_id",
            f"malformed work id {work_id[:64]!r}: ids look like "
            '"wk_01JD9V6GQ8M3T6Y4D3W0Y5B7ZC" as returned by Enqueue',
        )


async def _now_us(engine: Engine) -> int:
    # On PostgreSQL the database's clock decides ready times, as in explain.
    if engine.settings.database_clock:
        return await engine.read(queries.database_now_us)
    return engine.clock.now_us()


def _completed_by_label(
    registry: CollectorRegistry,
    result: str | None = None,
    sample_name: str = COMPLETED_SAMPLE,
) -> dict[str, float]:
    """Sum a per-pool counter, the completion counter by default, per pool
    label; `result` keeps only the completions of that result.

    NOTE: the counter lives in this process, so with several replicas on one
    PostgreSQL database it counts only the work this replica finished.
    """
    totals: dict[str, float] = {}
    for family in registry.collect():
        for sample in family.samples:
            if sample.name != sample_name:
                continue
            if result is not None and sample.labels.get("result") != result:
                continue
            pool = sample.labels.get("pool", "")
            totals[pool] = totals.get(pool, 0) + sample.value
    return totals


def _pool_settings(settings: PoolSettings) -> dict[str, Any]:
    retry = settings.default_retry
    return {
        "name": settings.name,
        "max_parallelism": settings.max_parallelism,
        "retry_by_default": settings.retry_by_default,
        "default_retry": {
            "max_attempts": retry.max_attempts,
            "initial_backoff_seconds": retry.initial_backoff_us / 1_000_000,
            "base": retry.base,
            "max_backoff_seconds": _seconds(retry.max_backoff_us),
        },
        "status_ttl_seconds": _seconds(settings.status_ttl_us),
    }


def _scheduling(
    breaker: BreakerState | None, borrowed: dict[str, int], settings: PoolSettings
) -> dict[str, Any]:
    """Return the breaker state and borrowed count shown on the pool's row."""
    open_until = None
    if breaker is not None and breaker.state is CircuitState.OPEN:
        open_until = _seconds(breaker.open_until_us)
    return {
        "circuit_state": None if breaker is None else breaker.state.name.lower(),
        "circuit_open_until_seconds": open_until,
        "borrowed": borrowed.get(settings.name, 0),
        "parent": settings.parent,
    }


def _status(status: WorkStatusView) -> dict[str, Any]:
    result = None
    if status.result is not None:
        result = {
            "kind": status.result.kind.name.lower(),
            "error": status.result.error,
            "non_retryable": status.result.non_retryable,
        }
    return {
        "work_id": status.work_id,
        "pool": status.pool,
        "function": status.function,
        "state": status.state.name.lower(),
        "previous_attempts": status.previous_attempts,
        "enqueued_at_seconds": _seconds(status.enqueued_at_us),
        "ready_at_seconds": _seconds(status.ready_at_us),
        "finished_at_seconds": _seconds(status.finished_at_us),
        "result": result,
        "last_error": status.last_error,
    }


def _attempt(attempt: AttemptView) -> dict[str, Any]:
    return {
        "attempt": attempt.attempt,
        "worker_id": attempt.worker_id,
        "worker_name": attempt.worker_name,
        "started_at_seconds": _seconds(attempt.started_at_us),
        "ended_at_seconds": _seconds(attempt.ended_at_us),
        # None while the attempt runs.
        "outcome": None if attempt.outcome is None else attempt.outcome.name.lower(),
        "error": attempt.error,
    }


def _explanation(explanation: Explanation) -> dict[str, Any]:
    return {
        "reason": explanation.reason.name.lower(),
        "detail": explanation.detail,
        "until_seconds": _seconds(explanation.until_us),
        "since_seconds": _seconds(explanation.since_us),
        "running_work_ids": list(explanation.running_work_ids),
        "worker_id": explanation.worker_id,
        "ahead_count": explanation.ahead_count,
    }


def _seconds(value_us: int | None) -> float | None:
    return None if value_us is None else value_us / 1_000_000
