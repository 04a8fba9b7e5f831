"""Conversions between the SDK's domain types and the generated messages.

Both clients and the worker build requests and read responses only through
this module, so each rule about the wire format lives in one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workpool._errors import WorkpoolError
from workpool._models import (
    DEFAULT_BACKOFF_BASE,
    DEFAULT_INITIAL_BACKOFF,
    DEFAULT_MAX_ATTEMPTS,
    UNSET,
    Attempt,
    AttemptOutcome,
    CancelAllResult,
    CancelOutcome,
    CircuitBreaker,
    CircuitState,
    Completion,
    Explanation,
    OnComplete,
    Pool,
    PoolStats,
    RateLimit,
    Result,
    ResultKind,
    RetryPolicy,
    WaitReason,
    WorkItem,
    WorkState,
    WorkStatus,
)
from workpool._times import from_duration, optional_timestamp, to_duration, to_timestamp
from workpool._values import from_value, to_value
from workpool.v1 import pool_service_pb2, types_pb2, workpool_service_pb2

# Settings of a pool that create_pool, update_pool and ensure_pool accept, in
# the order update masks list them.
POOL_SETTINGS = (
    "max_parallelism",
    "retry_by_default",
    "default_retry",
    "status_ttl",
    "keep_status_forever",
    "max_per_key",
    "priority_aging",
    "rate_limit",
    "default_attempt_timeout",
    "circuit_breaker",
    "parent",
)

# Settings that update_pool may set to None to restore the server's default.
_RESETTABLE_POOL_SETTINGS = frozenset(
    {
        "default_retry",
        "status_ttl",
        "priority_aging",
        "rate_limit",
        "default_attempt_timeout",
        "circuit_breaker",
        "parent",
    }
)

_CIRCUIT_STATES = {
    types_pb2.CIRCUIT_STATE_CLOSED: CircuitState.CLOSED,
    types_pb2.CIRCUIT_STATE_OPEN: CircuitState.OPEN,
    types_pb2.CIRCUIT_STATE_HALF_OPEN: CircuitState.HALF_OPEN,
}

# Each domain enum member has the proto value of the same name.
_WORK_STATES = {
    types_pb2.WorkState.Value(f"WORK_STATE_{state.name}"): state for state in WorkState
}
_ATTEMPT_OUTCOMES = {
    types_pb2.AttemptOutcome.Value(f"ATTEMPT_OUTCOME_{outcome.name}"): outcome
    for outcome in AttemptOutcome
}
_CANCEL_OUTCOMES = {
    workpool_service_pb2.CancelOutcome.Value(f"CANCEL_OUTCOME_{outcome.name}"): outcome
    for outcome in CancelOutcome
}


# Requests.


def retry_policy_to_proto(policy: RetryPolicy) -> types_pb2.RetryPolicy:
    """Convert a RetryPolicy, setting every field so no server default applies."""
    message = types_pb2.RetryPolicy(
        max_attempts=policy.max_attempts,
        base=float(policy.base),
    )
    message.initial_backoff.CopyFrom(
        to_duration(policy.initial_backoff, name="RetryPolicy.initial_backoff")
    )
    if policy.max_backoff is not None:
        message.max_backoff.CopyFrom(
            to_duration(policy.max_backoff, name="RetryPolicy.max_backoff")
        )
    return message


def work_item_to_spec(item: WorkItem, *, name: str = "work") -> types_pb2.WorkSpec:
    """Convert a WorkItem to a WorkSpec; ``name`` prefixes error messages."""
    spec = types_pb2.WorkSpec(function=item.function)
    spec.args.CopyFrom(to_value(item.args, name=f"{name}.args"))

    if item.retry is True or item.retry is False:
        spec.retry_enabled = item.retry
    elif isinstance(item.retry, RetryPolicy):
        spec.retry_policy.CopyFrom(retry_policy_to_proto(item.retry))

    if item.on_complete is not None:
        spec.on_complete.CopyFrom(_on_complete_to_proto(item.on_complete, name))

    if item.run_at is not None:
        spec.run_at.CopyFrom(to_timestamp(item.run_at, name=f"{name}.run_at"))
    elif item.run_after is not None:
        spec.run_after.CopyFrom(to_duration(item.run_after, name=f"{name}.run_after"))

    if item.idempotency_key is not None:
        spec.idempotency_key = item.idempotency_key
    if item.concurrency_key is not None:
        spec.concurrency_key = item.concurrency_key
    spec.priority = item.priority
    if item.attempt_timeout is not None:
        spec.attempt_timeout.CopyFrom(
            to_duration(item.attempt_timeout, name=f"{name}.attempt_timeout")
        )
    return spec


def _on_complete_to_proto(on_complete: OnComplete, name: str) -> types_pb2.OnComplete:
    if not isinstance(on_complete.function, str) or not on_complete.function:
        raise ValueError(
            f"{name}.on_complete.function must name a registered handler, got "
            f"{on_complete.function!r}"
        )

    message = types_pb2.OnComplete(function=on_complete.function)
    message.context.CopyFrom(
        to_value(on_complete.context, name=f"{name}.on_complete.context")
    )
    return message


def enqueue_request(pool: str, item: WorkItem) -> workpool_service_pb2.EnqueueRequest:
    """Build an EnqueueRequest for one item."""
    request = workpool_service_pb2.EnqueueRequest(pool=_check_pool_name(pool))
    request.work.CopyFrom(work_item_to_spec(item))
    return request


def enqueue_batch_request(
    pool: str, items: Any
) -> workpool_service_pb2.EnqueueBatchRequest:
    """Build an EnqueueBatchRequest; ``items`` is an iterable of WorkItem."""
    request = workpool_service_pb2.EnqueueBatchRequest(pool=_check_pool_name(pool))
    for index, item in enumerate(items):
        if not isinstance(item, WorkItem):
            raise TypeError(
                f"items[{index}] must be a WorkItem, got {type(item).__name__}; "
                'write WorkItem("function.name", args)'
            )
        request.work.append(work_item_to_spec(item, name=f"items[{index}]"))
    return request


def watch_request(
    pools: Any, work_ids: Any, after_sequence: int | None
) -> workpool_service_pb2.WatchCompletionsRequest:
    """Build a WatchCompletionsRequest; None leaves after_sequence unset."""
    request = workpool_service_pb2.WatchCompletionsRequest(
        pools=_str_list(pools, "pools"),
        work_ids=_str_list(work_ids, "work_ids"),
    )
    if after_sequence is not None:
        request.after_sequence = after_sequence
    return request


def pool_settings_to_proto(
    name: str, settings: Mapping[str, Any]
) -> tuple[types_pb2.Pool, list[str]]:
    """Build a Pool message from settings and list the fields they set.

    The returned paths, in ``POOL_SETTINGS`` order, are the update mask of an
    UpdatePool call. A None value of ``default_retry`` or ``status_ttl`` stays
    in the mask with the field unset, which restores the server's default.

    Raises:
        TypeError: a setting is unknown or has the wrong type.
        ValueError: a setting has an invalid value.
    """
    unknown = sorted(set(settings) - set(POOL_SETTINGS))
    if unknown:
        raise TypeError(
            f"unknown pool setting {', '.join(unknown)}; valid settings are "
            f"{', '.join(POOL_SETTINGS)}"
        )

    pool = types_pb2.Pool(name=_check_pool_name(name))
    paths = [field for field in POOL_SETTINGS if field in settings]
    for field in paths:
        _set_pool_setting(pool, field, settings[field])
    return pool, paths


def _set_pool_setting(pool: types_pb2.Pool, field: str, value: Any) -> None:
    if value is None:
        if field in _RESETTABLE_POOL_SETTINGS:
            return
        raise TypeError(f"pool setting {field} cannot be None; pass a value")

    if field == "max_parallelism":
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"max_parallelism must be an int, got {value!r}")
        if value < 0:
            raise ValueError(
                f"max_parallelism is {value}; use 0 or more (0 pauses the pool)"
            )
        pool.max_parallelism = value
    elif field in ("retry_by_default", "keep_status_forever"):
        if not isinstance(value, bool):
            raise TypeError(f"{field} must be a bool, got {value!r}")
        setattr(pool, field, value)
    elif field == "default_retry":
        if not isinstance(value, RetryPolicy):
            raise TypeError(f"default_retry must be a RetryPolicy, got {value!r}")
        pool.default_retry.CopyFrom(retry_policy_to_proto(value))
    elif field in ("status_ttl", "priority_aging", "default_attempt_timeout"):
        getattr(pool, field).CopyFrom(to_duration(value, name=field))
    elif field == "max_per_key":
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"max_per_key must be an int, got {value!r}")
        pool.max_per_key = value
    elif field == "rate_limit":
        if not isinstance(value, RateLimit):
            raise TypeError(f"rate_limit must be a RateLimit, got {value!r}")
        pool.rate_limit.CopyFrom(
            types_pb2.RateLimit(per_second=float(value.per_second), burst=value.burst)
        )
    elif field == "circuit_breaker":
        if not isinstance(value, CircuitBreaker):
            raise TypeError(f"circuit_breaker must be a CircuitBreaker, got {value!r}")
        pool.circuit_breaker.CopyFrom(
            types_pb2.CircuitBreaker(
                failure_rate=float(value.failure_rate),
                window=to_duration(value.window, name="circuit_breaker.window"),
                min_attempts=value.min_attempts,
                cool_down=to_duration(
                    value.cool_down, name="circuit_breaker.cool_down"
                ),
            )
        )
    elif field == "parent":
        pool.parent = _check_pool_name(value)


def update_pool_request(
    name: str, settings: Mapping[str, Any]
) -> pool_service_pb2.UpdatePoolRequest:
    """Build an UpdatePoolRequest whose mask names exactly the given settings."""
    if not settings:
        raise ValueError(
            "update_pool needs at least one setting to change, such as "
            "max_parallelism=5"
        )

    pool, paths = pool_settings_to_proto(name, settings)
    request = pool_service_pb2.UpdatePoolRequest(pool=pool)
    request.update_mask.paths.extend(paths)
    return request


def _check_pool_name(pool: Any) -> str:
    if not isinstance(pool, str) or not pool:
        raise ValueError(f"pool must be a non-empty str, got {pool!r}")
    return pool


def _str_list(values: Any, name: str) -> list[str]:
    if isinstance(values, str):
        raise TypeError(f"{name} must be a list of str, not a single str {values!r}")

    result = list(values)
    for index, value in enumerate(result):
        if not isinstance(value, str):
            raise TypeError(f"{name}[{index}] must be a str, got {value!r}")
    return result


# Responses.


def retry_policy_from_proto(message: types_pb2.RetryPolicy) -> RetryPolicy:
    """Convert a RetryPolicy message, filling unset fields with the defaults."""
    return RetryPolicy(
        max_attempts=(
            message.max_attempts
            if message.HasField("max_attempts")
            else DEFAULT_MAX_ATTEMPTS
        ),
        initial_backoff=(
            from_duration(message.initial_backoff)
            if message.HasField("initial_backoff")
            else DEFAULT_INITIAL_BACKOFF
        ),
        base=message.base if message.HasField("base") else DEFAULT_BACKOFF_BASE,
        max_backoff=(
            from_duration(message.max_backoff)
            if message.HasField("max_backoff")
            else None
        ),
    )


def result_from_proto(message: types_pb2.Result) -> Result | None:
    """Convert a Result message, or return None when no outcome is set."""
    outcome = message.WhichOneof("outcome")
    if outcome == "success":
        return_value = (
            from_value(message.success.return_value)
            if message.success.HasField("return_value")
            else None
        )
        return Result(ResultKind.SUCCESS, return_value=return_value)
    if outcome == "failure":
        return Result(
            ResultKind.FAILURE,
            error=message.failure.error,
            non_retryable=message.failure.non_retryable,
        )
    if outcome == "canceled":
        return Result(ResultKind.CANCELED)
    return None


def status_from_proto(message: types_pb2.WorkStatus) -> WorkStatus:
    """Convert a WorkStatus message."""
    result = result_from_proto(message.result) if message.HasField("result") else None
    state = _WORK_STATES.get(message.state)
    if state is None:
        raise WorkpoolError(
            f"server sent the unknown work state {message.state} for "
            f"{message.work_id}; upgrade the workpool SDK"
        )

    return WorkStatus(
        work_id=message.work_id,
        state=state,
        previous_attempts=message.previous_attempts,
        result=result,
        pool=message.pool,
        function=message.function,
        enqueued_at=optional_timestamp(message, "enqueued_at"),
        ready_at=optional_timestamp(message, "ready_at"),
        finished_at=optional_timestamp(message, "finished_at"),
        last_error=message.last_error or None,
        concurrency_key=message.concurrency_key or None,
        priority=message.priority,
        continuations=message.continuations,
        attempts=tuple(attempt_from_proto(record) for record in message.attempts),
    )


def attempt_from_proto(message: types_pb2.AttemptRecord) -> Attempt:
    """Convert an AttemptRecord; an outcome this SDK does not know reads as
    None, like a running attempt's."""
    return Attempt(
        attempt=message.attempt,
        worker_id=message.worker_id,
        worker_name=message.worker_name,
        started_at=optional_timestamp(message, "started_at"),
        ended_at=optional_timestamp(message, "ended_at"),
        outcome=_ATTEMPT_OUTCOMES.get(message.outcome),
        error=message.error,
    )


def completion_from_proto(message: types_pb2.Completion) -> Completion:
    """Convert a Completion message.

    Raises:
        WorkpoolError: the server sent a completion without a result.
    """
    result = result_from_proto(message.result)
    if result is None:
        raise WorkpoolError(
            f"server sent completion {message.sequence} of {message.work_id} "
            "without a result"
        )

    return Completion(
        sequence=message.sequence,
        work_id=message.work_id,
        pool=message.pool,
        function=message.function,
        result=result,
        context=from_value(message.context) if message.HasField("context") else None,
        attempts=message.attempts,
        finished_at=optional_timestamp(message, "finished_at"),
        continuations=message.continuations,
    )


def pool_from_proto(
    message: types_pb2.Pool, stats: types_pb2.PoolStats | None = None
) -> Pool:
    """Convert a Pool message, filling unset settings with their defaults."""
    default = Pool(name=message.name)
    return Pool(
        name=message.name,
        max_parallelism=(
            message.max_parallelism
            if message.HasField("max_parallelism")
            else default.max_parallelism
        ),
        retry_by_default=message.retry_by_default,
        default_retry=(
            retry_policy_from_proto(message.default_retry)
            if message.HasField("default_retry")
            else default.default_retry
        ),
        status_ttl=(
            from_duration(message.status_ttl)
            if message.HasField("status_ttl")
            else default.status_ttl
        ),
        keep_status_forever=message.keep_status_forever,
        stats=_pool_stats_from_proto(stats) if stats is not None else None,
        **_pool_scheduling_from_proto(message),
    )


def _pool_stats_from_proto(stats: types_pb2.PoolStats) -> PoolStats:
    return PoolStats(
        stats.pending_count,
        stats.running_count,
        circuit_state=_CIRCUIT_STATES.get(stats.circuit_state),
        circuit_open_until=optional_timestamp(stats, "circuit_open_until"),
        borrowed_count=stats.borrowed_count,
    )


def _pool_scheduling_from_proto(message: types_pb2.Pool) -> dict[str, Any]:
    """Read the scheduling settings of a Pool message; unset ones take the
    server's defaults."""
    values: dict[str, Any] = {"max_per_key": message.max_per_key}
    if message.HasField("priority_aging"):
        values["priority_aging"] = from_duration(message.priority_aging)
    if message.HasField("rate_limit"):
        values["rate_limit"] = RateLimit(
            message.rate_limit.per_second, message.rate_limit.burst or 1
        )
    if message.HasField("default_attempt_timeout"):
        values["default_attempt_timeout"] = from_duration(
            message.default_attempt_timeout
        )
    if message.HasField("circuit_breaker"):
        breaker = message.circuit_breaker
        values["circuit_breaker"] = CircuitBreaker(
            failure_rate=breaker.failure_rate,
            window=from_duration(breaker.window),
            min_attempts=breaker.min_attempts,
            cool_down=from_duration(breaker.cool_down),
        )
    values["parent"] = message.parent or None
    return values


def cancel_outcome_from_proto(outcome: int) -> CancelOutcome:
    """Convert a CancelOutcome enum value."""
    converted = _CANCEL_OUTCOMES.get(outcome)
    if converted is None:
        raise WorkpoolError(
            f"server sent the unknown cancel outcome {outcome}; upgrade the "
            "workpool SDK"
        )
    return converted


def cancel_all_from_proto(
    response: workpool_service_pb2.CancelAllResponse,
) -> CancelAllResult:
    """Convert a CancelAllResponse."""
    return CancelAllResult(
        canceled_count=response.canceled_count,
        cancel_requested_count=response.cancel_requested_count,
    )


def pool_settings_differ(pool: Pool, settings: Mapping[str, Any]) -> dict[str, Any]:
    """Return the settings whose value differs from ``pool``; None means any."""
    return {
        field: value
        for field, value in settings.items()
        if value is not None and getattr(pool, field) != value
    }


def given_settings(**settings: Any) -> dict[str, Any]:
    """Keep the settings that are not None."""
    return {field: value for field, value in settings.items() if value is not None}


def passed_settings(**settings: Any) -> dict[str, Any]:
    """Keep the settings that the caller passed, None included."""
    return {field: value for field, value in settings.items() if value is not UNSET}


def explanation_from_proto(
    message: workpool_service_pb2.ExplainResponse,
) -> Explanation:
    """Convert an ExplainResponse message."""
    name = workpool_service_pb2.WaitReason.Name(message.reason)
    return Explanation(
        reason=WaitReason(name.removeprefix("WAIT_REASON_").lower()),
        detail=message.detail,
        status=status_from_proto(message.status),
        until=optional_timestamp(message, "until"),
        running_work_ids=tuple(message.running_work_ids),
        worker_id=message.worker_id,
        since=optional_timestamp(message, "since"),
        ahead_count=message.ahead_count,
    )
