"""Validation and conversion between protobuf messages and domain objects.

This module and the servicers are the only code that imports generated
protobuf modules. Every violation names the field as the caller spells it,
the rule, and the value received.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from google.protobuf import duration_pb2, struct_pb2, timestamp_pb2

from workpool.v1 import types_pb2, worker_service_pb2, workpool_service_pb2
from workpool_server.clock import from_micros
from workpool_server.engine.model import (
    DEFAULT_BREAKER_COOL_DOWN_US,
    DEFAULT_BREAKER_MIN_ATTEMPTS,
    DEFAULT_BREAKER_WINDOW_US,
    DEFAULT_STATUS_TTL_US,
    AttemptOutcome,
    AttemptReport,
    AttemptView,
    CircuitBreaker,
    CircuitState,
    CompletionRecord,
    Explanation,
    NewWork,
    Outcome,
    PoolSettings,
    RateLimit,
    ResultKind,
    RetryChoice,
    RetryPolicy,
    SchedulingStats,
    WorkState,
    WorkStatusView,
)
from workpool_server.errors import (
    FieldViolation,
    InvalidArgumentError,
    LimitExceededError,
    invalid,
)
from workpool_server.ids import is_valid_work_id
from workpool_server.limits import (
    CONCURRENCY_KEY_RULE,
    FUNCTION_NAME_RULE,
    MAX_ATTEMPT_TIMEOUT_US,
    MAX_ATTEMPTS_LIMIT,
    MAX_ERROR_CHARS,
    MAX_IDEMPOTENCY_KEY,
    MAX_PARALLELISM_LIMIT,
    MAX_PRIORITY,
    MAX_SCHEDULE_AHEAD_US,
    MAX_STATUS_TTL_US,
    MAX_VALUE_DEPTH,
    MAX_WORKER_CAPACITY,
    MAX_WORKER_NAME,
    POOL_NAME_RULE,
    duration_problem,
    is_concurrency_key,
    is_function_name,
    is_pool_name,
    scheduling_problems,
)

__all__ = ["MAX_WORKER_CAPACITY", "MAX_WORKER_NAME"]

_MAX_DURATION_SECONDS = 315_576_000_000
_MIN_TIMESTAMP_SECONDS = -62_135_596_800
_MAX_TIMESTAMP_SECONDS = 253_402_300_799


@dataclass(frozen=True)
class Limits:
    max_payload_bytes: int = 1024 * 1024
    max_batch_size: int = 10_000


# Names


def check_pool_name(name: str, field: str) -> str:
    if not name:
        raise invalid(field, 'is required: name the pool, such as "emails"')
    if not is_pool_name(name):
        raise invalid(field, f"invalid pool name {name[:140]!r}: {POOL_NAME_RULE}")
    return name


def check_function_name(name: str, field: str) -> str:
    if not name:
        raise invalid(field, 'is required: name the function, such as "email.send"')
    if not is_function_name(name):
        raise invalid(
            field, f"invalid function name {name[:270]!r}: {FUNCTION_NAME_RULE}"
        )
    return name


def check_work_id(work_id: str, field: str) -> str:
    if not is_valid_work_id(work_id):
        raise invalid(
            field,
            f"malformed work id {work_id[:64]!r}: ids look like "
            '"wk_01JD9V6GQ8M3T6Y4D3W0Y5B7ZC" as returned by Enqueue',
        )
    return work_id


# Times


def duration_us(message: duration_pb2.Duration, field: str) -> int:
    seconds, nanos = message.seconds, message.nanos
    if abs(seconds) > _MAX_DURATION_SECONDS or abs(nanos) >= 1_000_000_000:
        raise invalid(field, "is not a valid Duration")
    if (seconds > 0 and nanos < 0) or (seconds < 0 and nanos > 0):
        raise invalid(
            field, "is not a valid Duration: seconds and nanos differ in sign"
        )
    micros = seconds * 1_000_000 + nanos // 1_000
    if micros < 0:
        raise invalid(field, f"must not be negative, got {seconds + nanos / 1e9}s")
    return micros


def timestamp_us(message: timestamp_pb2.Timestamp, field: str) -> int:
    if not (
        _MIN_TIMESTAMP_SECONDS <= message.seconds <= _MAX_TIMESTAMP_SECONDS
        and 0 <= message.nanos < 1_000_000_000
    ):
        raise invalid(field, "is not a valid Timestamp")
    return message.seconds * 1_000_000 + message.nanos // 1_000


def to_timestamp(micros: int) -> timestamp_pb2.Timestamp:
    return timestamp_pb2.Timestamp(
        seconds=micros // 1_000_000, nanos=(micros % 1_000_000) * 1_000
    )


def to_duration(micros: int) -> duration_pb2.Duration:
    return duration_pb2.Duration(
        seconds=micros // 1_000_000, nanos=(micros % 1_000_000) * 1_000
    )


# Payloads


def payload_bytes(
    message: struct_pb2.Value, present: bool, field: str, limits: Limits
) -> bytes | None:
    if not present:
        return None
    data = message.SerializeToString()
    # Each level of nesting takes at least 4 bytes (a Value and its list or
    # struct, each with a tag and a length), so short payloads need no walk.
    if len(data) > 4 * MAX_VALUE_DEPTH and _depth(message) > MAX_VALUE_DEPTH:
        raise invalid(
            field,
            f"nests lists and objects deeper than {MAX_VALUE_DEPTH} levels: "
            "flatten it or send the nested part as a JSON string",
        )
    if _may_hold_non_finite(data) and _has_non_finite(message):
        raise invalid(
            field,
            "contains NaN or an infinite number, which JSON cannot represent: "
            "send it as a string or null",
        )
    if len(data) > limits.max_payload_bytes:
        raise LimitExceededError(
            field,
            f"is {len(data)} bytes, over the limit of {limits.max_payload_bytes} "
            "bytes (max_payload_bytes): store large data elsewhere and pass a "
            "reference",
        )
    return data


# A double is NaN or infinite when its 11 exponent bits are all set. In
# little-endian order they are the high nibble of the seventh byte and the
# low 7 bits of the eighth, so such a number's last two bytes match this
# pattern. Payloads without a match need no walk.
_NON_FINITE_TAIL = re.compile(rb"[\xf0-\xff][\x7f\xff]")


def _may_hold_non_finite(data: bytes) -> bool:
    return _NON_FINITE_TAIL.search(data) is not None


def _depth(value: struct_pb2.Value) -> int:
    """Return the deepest nesting of lists and structs in `value`."""
    deepest = 0
    stack = [(value, 0)]
    while stack:
        current, depth = stack.pop()
        kind = current.WhichOneof("kind")
        if kind == "struct_value":
            deepest = max(deepest, depth + 1)
            stack.extend((v, depth + 1) for v in current.struct_value.fields.values())
        elif kind == "list_value":
            deepest = max(deepest, depth + 1)
            stack.extend((v, depth + 1) for v in current.list_value.values)
    return deepest


def _has_non_finite(value: struct_pb2.Value) -> bool:
    stack = [value]
    while stack:
        current = stack.pop()
        kind = current.WhichOneof("kind")
        if kind == "number_value" and not math.isfinite(current.number_value):
            return True
        if kind == "struct_value":
            stack.extend(current.struct_value.fields.values())
        elif kind == "list_value":
            stack.extend(current.list_value.values)
    return False


def value_from_bytes(data: bytes | None) -> struct_pb2.Value | None:
    if data is None:
        return None
    return struct_pb2.Value.FromString(data)


_NULL_ARGS = struct_pb2.Value(null_value=struct_pb2.NULL_VALUE).SerializeToString()


# Retry policies


def retry_policy(
    message: types_pb2.RetryPolicy, field: str, base_policy: RetryPolicy | None = None
) -> RetryPolicy:
    """Validate a RetryPolicy; unset fields take those of `base_policy`."""
    defaults = base_policy or RetryPolicy()
    violations: list[FieldViolation] = []

    max_attempts = defaults.max_attempts
    if message.HasField("max_attempts"):
        max_attempts = message.max_attempts
        if not 1 <= max_attempts <= MAX_ATTEMPTS_LIMIT:
            violations.append(
                FieldViolation(
                    f"{field}.max_attempts",
                    f"must be between 1 and {MAX_ATTEMPTS_LIMIT} (1 means no "
                    f"retry), got {max_attempts}",
                )
            )

    base = defaults.base
    if message.HasField("base"):
        base = message.base
        if math.isnan(base) or math.isinf(base) or base < 1:
            violations.append(
                FieldViolation(
                    f"{field}.base", f"must be a finite number of 1 or more, got {base}"
                )
            )

    initial = defaults.initial_backoff_us
    maximum = defaults.max_backoff_us
    for name in ("initial_backoff", "max_backoff"):
        if not message.HasField(name):
            continue
        try:
            micros = duration_us(getattr(message, name), f"{field}.{name}")
        except InvalidArgumentError as error:
            violations.extend(error.violations)
            continue
        if name == "initial_backoff":
            initial = micros
        else:
            maximum = micros

    if violations:
        raise InvalidArgumentError(violations)
    return RetryPolicy(max_attempts, initial, base, maximum)


def retry_policy_message(policy: RetryPolicy) -> types_pb2.RetryPolicy:
    message = types_pb2.RetryPolicy(
        max_attempts=policy.max_attempts,
        initial_backoff=to_duration(policy.initial_backoff_us),
        base=policy.base,
    )
    if policy.max_backoff_us is not None:
        message.max_backoff.CopyFrom(to_duration(policy.max_backoff_us))
    return message


# Work specs


def new_work(
    spec: types_pb2.WorkSpec, field: str, limits: Limits, now_us: int
) -> NewWork:
    function = check_function_name(spec.function, f"{field}.function")
    args = payload_bytes(spec.args, spec.HasField("args"), f"{field}.args", limits)

    retry_choice = RetryChoice.POOL_DEFAULT
    custom = None
    which_retry = spec.WhichOneof("retry")
    if which_retry == "retry_enabled":
        retry_choice = (
            RetryChoice.POOL_POLICY if spec.retry_enabled else RetryChoice.NONE
        )
    elif which_retry == "retry_policy":
        retry_choice = RetryChoice.CUSTOM
        custom = retry_policy(spec.retry_policy, f"{field}.retry_policy")

    on_complete_function = None
    on_complete_context = None
    if spec.HasField("on_complete"):
        on_complete_function = check_function_name(
            spec.on_complete.function, f"{field}.on_complete.function"
        )
        on_complete_context = payload_bytes(
            spec.on_complete.context,
            spec.on_complete.HasField("context"),
            f"{field}.on_complete.context",
            limits,
        )

    run_at_us = run_after_us = None
    which_schedule = spec.WhichOneof("schedule")
    if which_schedule == "run_at":
        run_at_us = timestamp_us(spec.run_at, f"{field}.run_at")
        if run_at_us - now_us > MAX_SCHEDULE_AHEAD_US:
            raise invalid(
                f"{field}.run_at",
                "is more than 366 days ahead: schedule it closer, or enqueue it later",
            )
    elif which_schedule == "run_after":
        run_after_us = duration_us(spec.run_after, f"{field}.run_after")
        if run_after_us > MAX_SCHEDULE_AHEAD_US:
            raise invalid(
                f"{field}.run_after",
                "is more than 366 days: schedule it closer, or enqueue it later",
            )

    key = spec.idempotency_key or None
    if key is not None and len(key) > MAX_IDEMPOTENCY_KEY:
        raise invalid(
            f"{field}.idempotency_key",
            f"must be at most {MAX_IDEMPOTENCY_KEY} characters, got {len(key)}",
        )
    if key is not None and not key.isprintable():
        raise invalid(
            f"{field}.idempotency_key",
            "contains a control character: use printable characters only",
        )

    concurrency_key = spec.concurrency_key or None
    if concurrency_key is not None and not is_concurrency_key(concurrency_key):
        raise invalid(
            f"{field}.concurrency_key",
            f"invalid concurrency key {concurrency_key[:270]!r}: "
            f"{CONCURRENCY_KEY_RULE}",
        )
    if not -MAX_PRIORITY <= spec.priority <= MAX_PRIORITY:
        raise invalid(
            f"{field}.priority",
            f"must be between {-MAX_PRIORITY} and {MAX_PRIORITY}, got {spec.priority}",
        )
    attempt_timeout_us = None
    if spec.HasField("attempt_timeout"):
        attempt_timeout_us = bounded_duration_us(
            spec.attempt_timeout,
            f"{field}.attempt_timeout",
            MAX_ATTEMPT_TIMEOUT_US,
            "7 days",
        )

    return NewWork(
        function=function,
        args=args if args is not None else _NULL_ARGS,
        retry_choice=retry_choice,
        custom_retry=custom,
        on_complete_function=on_complete_function,
        on_complete_context=on_complete_context,
        run_at_us=run_at_us,
        run_after_us=run_after_us,
        idempotency_key=key,
        concurrency_key=concurrency_key,
        priority=spec.priority,
        attempt_timeout_us=attempt_timeout_us,
    )


def bounded_duration_us(
    message: duration_pb2.Duration, field: str, limit_us: int, limit_text: str
) -> int:
    """Validate a duration that must be above 0 and at most `limit_us`."""
    micros = duration_us(message, field)
    problem = duration_problem(micros, limit_us, limit_text)
    if problem is not None:
        raise invalid(field, problem)
    return micros


def check_batch_size(count: int, field: str, limits: Limits) -> None:
    if count == 0:
        raise invalid(field, "is empty: send at least one item")
    if count > limits.max_batch_size:
        raise LimitExceededError(
            field,
            f"has {count} items, over the limit of {limits.max_batch_size} "
            "(max_batch_size): split it into several calls",
        )


# Results and status


def result_message(outcome: Outcome) -> types_pb2.Result:
    if outcome.kind is ResultKind.SUCCESS:
        value = value_from_bytes(outcome.return_value)
        success = types_pb2.Success()
        if value is not None:
            success.return_value.CopyFrom(value)
        return types_pb2.Result(success=success)
    if outcome.kind is ResultKind.FAILURE:
        return types_pb2.Result(
            failure=types_pb2.Failure(
                error=outcome.error, non_retryable=outcome.non_retryable
            )
        )
    return types_pb2.Result(canceled=types_pb2.Canceled())


_STATES = {
    WorkState.PENDING: types_pb2.WORK_STATE_PENDING,
    WorkState.RUNNING: types_pb2.WORK_STATE_RUNNING,
    WorkState.FINISHED: types_pb2.WORK_STATE_FINISHED,
}


def status_message(view: WorkStatusView) -> types_pb2.WorkStatus:
    message = types_pb2.WorkStatus(
        work_id=view.work_id,
        state=_STATES[view.state],
        previous_attempts=view.previous_attempts,
        pool=view.pool,
        function=view.function,
        enqueued_at=to_timestamp(view.enqueued_at_us),
        last_error=view.last_error,
        concurrency_key=view.concurrency_key or "",
        priority=view.priority,
        continuations=view.continuations,
    )
    if view.result is not None:
        message.result.CopyFrom(result_message(view.result))
    if view.ready_at_us is not None:
        message.ready_at.CopyFrom(to_timestamp(view.ready_at_us))
    if view.finished_at_us is not None:
        message.finished_at.CopyFrom(to_timestamp(view.finished_at_us))
    return message


_ATTEMPT_OUTCOMES = {
    outcome: types_pb2.AttemptOutcome.Value(f"ATTEMPT_OUTCOME_{outcome.name}")
    for outcome in AttemptOutcome
}


def attempt_message(view: AttemptView) -> types_pb2.AttemptRecord:
    message = types_pb2.AttemptRecord(
        attempt=view.attempt,
        worker_id=view.worker_id,
        worker_name=view.worker_name,
        started_at=to_timestamp(view.started_at_us),
        error=view.error,
    )
    if view.ended_at_us is not None:
        message.ended_at.CopyFrom(to_timestamp(view.ended_at_us))
    if view.outcome is not None:
        message.outcome = _ATTEMPT_OUTCOMES[view.outcome]
    return message


def explain_message(
    explanation: Explanation,
) -> workpool_service_pb2.ExplainResponse:
    message = workpool_service_pb2.ExplainResponse(
        reason=workpool_service_pb2.WaitReason.Value(
            f"WAIT_REASON_{explanation.reason.name}"
        ),
        detail=explanation.detail,
        status=status_message(explanation.status),
        running_work_ids=explanation.running_work_ids,
        worker_id=explanation.worker_id,
        ahead_count=explanation.ahead_count,
    )
    if explanation.until_us is not None:
        message.until.CopyFrom(to_timestamp(explanation.until_us))
    if explanation.since_us is not None:
        message.since.CopyFrom(to_timestamp(explanation.since_us))
    return message


def completion_message(record: CompletionRecord) -> types_pb2.Completion:
    message = types_pb2.Completion(
        sequence=record.sequence,
        work_id=record.work_id,
        pool=record.pool,
        function=record.function,
        result=result_message(record.outcome),
        attempts=record.attempts,
        finished_at=to_timestamp(record.finished_at_us),
        continuations=record.continuations,
    )
    context = value_from_bytes(record.context)
    if context is not None:
        message.context.CopyFrom(context)
    return message


def build_follow_up_args(
    work_id: str, context: bytes | None, outcome: Outcome
) -> bytes:
    """Serialize the follow-up's args: {work_id, context, result}."""
    result: dict[str, object]
    if outcome.kind is ResultKind.SUCCESS:
        result = {"kind": "success"}
    elif outcome.kind is ResultKind.FAILURE:
        result = {"kind": "failure", "error": outcome.error}
    else:
        result = {"kind": "canceled"}

    args = struct_pb2.Value()
    args.struct_value.update({"work_id": work_id, "result": result})
    fields = args.struct_value.fields
    context_value = value_from_bytes(context)
    if context_value is None:
        fields["context"].null_value = struct_pb2.NULL_VALUE
    else:
        fields["context"].CopyFrom(context_value)
    if outcome.kind is ResultKind.SUCCESS:
        return_value = value_from_bytes(outcome.return_value)
        target = fields["result"].struct_value.fields["return_value"]
        if return_value is None:
            target.null_value = struct_pb2.NULL_VALUE
        else:
            target.CopyFrom(return_value)
    return args.SerializeToString()


# Worker messages


def attempt_report(
    message: worker_service_pb2.AttemptResult, field: str, limits: Limits
) -> AttemptReport:
    check_work_id(message.work_id, f"{field}.work_id")
    which = message.WhichOneof("outcome")
    if which == "success":
        try:
            value = payload_bytes(
                message.success.return_value,
                message.success.HasField("return_value"),
                f"{field}.success.return_value",
                limits,
            )
        except (InvalidArgumentError, LimitExceededError) as error:
            # The same code would return the same value again, so the attempt
            # fails for good, and the worker's other attempts go on.
            outcome = Outcome(
                ResultKind.FAILURE,
                error=f"return value rejected: {error}",
                non_retryable=True,
            )
            return AttemptReport(message.work_id, message.attempt, outcome)
        outcome = Outcome(ResultKind.SUCCESS, return_value=value)
    elif which == "continuation":
        continuation = message.continuation
        try:
            args = payload_bytes(
                continuation.args,
                continuation.HasField("args"),
                f"{field}.continuation.args",
                limits,
            )
        except (InvalidArgumentError, LimitExceededError) as error:
            # As with a return value: the same code would send the same args.
            outcome = Outcome(
                ResultKind.FAILURE,
                error=f"continuation args rejected: {error}",
                non_retryable=True,
            )
            return AttemptReport(message.work_id, message.attempt, outcome)
        outcome = Outcome(
            ResultKind.CONTINUATION,
            continuation_args=args if args is not None else _NULL_ARGS,
        )
    elif which == "failure":
        error = message.failure.error[:MAX_ERROR_CHARS] or "failed without a message"
        outcome = Outcome(
            ResultKind.FAILURE,
            error=error,
            non_retryable=message.failure.non_retryable,
        )
    else:
        raise invalid(
            f"{field}.outcome", "is required: set success, failure or continuation"
        )
    return AttemptReport(message.work_id, message.attempt, outcome)


def assignment_message(assignment) -> worker_service_pb2.Assignment:
    message = worker_service_pb2.Assignment(
        work_id=assignment.work_id,
        attempt=assignment.attempt,
        function=assignment.function,
        args=struct_pb2.Value.FromString(assignment.args),
        lease_expires_at=to_timestamp(assignment.lease_expires_at_us),
        pool=assignment.pool,
        trace_context=assignment.trace_context,
    )
    if assignment.deadline_us is not None:
        message.deadline.CopyFrom(to_timestamp(assignment.deadline_us))
    return message


# Pools


def pool_settings(
    message: types_pb2.Pool, field: str, current: PoolSettings | None = None
) -> PoolSettings:
    """Validate a Pool message; unset fields keep `current` or the defaults."""
    name = check_pool_name(message.name, f"{field}.name")
    base = current or PoolSettings(name=name)

    max_parallelism = base.max_parallelism
    if message.HasField("max_parallelism"):
        max_parallelism = message.max_parallelism
        if not 0 <= max_parallelism <= MAX_PARALLELISM_LIMIT:
            raise invalid(
                f"{field}.max_parallelism",
                f"must be between 0 (paused) and {MAX_PARALLELISM_LIMIT}, "
                f"got {max_parallelism}",
            )

    default_retry = base.default_retry
    if message.HasField("default_retry"):
        default_retry = retry_policy(message.default_retry, f"{field}.default_retry")

    status_ttl_us = base.status_ttl_us
    if message.keep_status_forever:
        status_ttl_us = None
    elif message.HasField("status_ttl"):
        status_ttl_us = duration_us(message.status_ttl, f"{field}.status_ttl")
        if status_ttl_us > MAX_STATUS_TTL_US:
            raise invalid(
                f"{field}.status_ttl",
                "is longer than 3650 days: set keep_status_forever instead",
            )
    elif current is None:
        status_ttl_us = DEFAULT_STATUS_TTL_US

    settings = PoolSettings(
        name=name,
        max_parallelism=max_parallelism,
        retry_by_default=message.retry_by_default,
        default_retry=default_retry,
        status_ttl_us=status_ttl_us,
        **pool_scheduling(message, field, base),
    )
    problems = scheduling_problems(settings)
    if problems:
        raise InvalidArgumentError(
            [FieldViolation(f"{field}.{name}", text) for name, text in problems]
        )
    return settings


def pool_scheduling(message: types_pb2.Pool, field: str, base: PoolSettings) -> dict:
    """Read the scheduling settings of a Pool; unset ones keep `base`'s.

    Only the wire format is checked here. scheduling_problems checks the
    ranges, for the API and the config file alike.
    """
    values: dict = {}
    if message.HasField("max_per_key"):
        values["max_per_key"] = message.max_per_key
    if message.HasField("priority_aging"):
        values["priority_aging_us"] = _signed_duration_us(
            message.priority_aging, f"{field}.priority_aging"
        )
    if message.HasField("rate_limit"):
        rate = message.rate_limit
        values["rate_limit"] = RateLimit(rate.per_second, rate.burst or 1)
    if message.HasField("default_attempt_timeout"):
        values["default_attempt_timeout_us"] = _signed_duration_us(
            message.default_attempt_timeout, f"{field}.default_attempt_timeout"
        )
    if message.HasField("circuit_breaker"):
        values["circuit_breaker"] = _circuit_breaker(message.circuit_breaker, field)
    if message.parent:
        values["parent"] = message.parent
    return {**_scheduling_of(base), **values}


def _scheduling_of(settings: PoolSettings) -> dict:
    return {
        "max_per_key": settings.max_per_key,
        "priority_aging_us": settings.priority_aging_us,
        "rate_limit": settings.rate_limit,
        "default_attempt_timeout_us": settings.default_attempt_timeout_us,
        "circuit_breaker": settings.circuit_breaker,
        "parent": settings.parent,
    }


def _signed_duration_us(message: duration_pb2.Duration, field: str) -> int:
    """Convert a Duration that may be negative, for range checks to report."""
    seconds, nanos = message.seconds, message.nanos
    if abs(seconds) > _MAX_DURATION_SECONDS or abs(nanos) >= 1_000_000_000:
        raise invalid(field, "is not a valid Duration")
    return seconds * 1_000_000 + int(nanos / 1_000)


def _circuit_breaker(message: types_pb2.CircuitBreaker, field: str) -> CircuitBreaker:
    where = f"{field}.circuit_breaker"
    window = DEFAULT_BREAKER_WINDOW_US
    if message.HasField("window"):
        window = _signed_duration_us(message.window, f"{where}.window")
    cool_down = DEFAULT_BREAKER_COOL_DOWN_US
    if message.HasField("cool_down"):
        cool_down = _signed_duration_us(message.cool_down, f"{where}.cool_down")
    return CircuitBreaker(
        failure_rate=message.failure_rate,
        window_us=window,
        min_attempts=message.min_attempts or DEFAULT_BREAKER_MIN_ATTEMPTS,
        cool_down_us=cool_down,
    )


def pool_message(settings: PoolSettings) -> types_pb2.Pool:
    message = types_pb2.Pool(
        name=settings.name,
        max_parallelism=settings.max_parallelism,
        retry_by_default=settings.retry_by_default,
        default_retry=retry_policy_message(settings.default_retry),
        keep_status_forever=settings.status_ttl_us is None,
    )
    if settings.status_ttl_us is not None:
        message.status_ttl.CopyFrom(to_duration(settings.status_ttl_us))
    if settings.max_per_key:
        message.max_per_key = settings.max_per_key
    message.priority_aging.CopyFrom(to_duration(settings.priority_aging_us))
    if settings.rate_limit is not None:
        message.rate_limit.CopyFrom(
            types_pb2.RateLimit(
                per_second=settings.rate_limit.per_second,
                burst=settings.rate_limit.burst,
            )
        )
    if settings.default_attempt_timeout_us is not None:
        message.default_attempt_timeout.CopyFrom(
            to_duration(settings.default_attempt_timeout_us)
        )
    breaker = settings.circuit_breaker
    if breaker is not None:
        message.circuit_breaker.CopyFrom(
            types_pb2.CircuitBreaker(
                failure_rate=breaker.failure_rate,
                window=to_duration(breaker.window_us),
                min_attempts=breaker.min_attempts,
                cool_down=to_duration(breaker.cool_down_us),
            )
        )
    if settings.parent is not None:
        message.parent = settings.parent
    return message


_CIRCUIT_STATES = {
    CircuitState.CLOSED: types_pb2.CIRCUIT_STATE_CLOSED,
    CircuitState.OPEN: types_pb2.CIRCUIT_STATE_OPEN,
    CircuitState.HALF_OPEN: types_pb2.CIRCUIT_STATE_HALF_OPEN,
}


def pool_stats_message(
    pending: int, running: int, scheduling: SchedulingStats
) -> types_pb2.PoolStats:
    message = types_pb2.PoolStats(
        pending_count=pending,
        running_count=running,
        borrowed_count=scheduling.borrowed_count,
    )
    if scheduling.circuit_state is not None:
        message.circuit_state = _CIRCUIT_STATES[scheduling.circuit_state]
    if scheduling.circuit_open_until_us is not None:
        message.circuit_open_until.CopyFrom(
            to_timestamp(scheduling.circuit_open_until_us)
        )
    return message


def micros_to_datetime_text(micros: int) -> str:
    return from_micros(micros).isoformat()
