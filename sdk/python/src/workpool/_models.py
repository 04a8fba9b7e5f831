"""Domain types of the SDK: plain frozen dataclasses and enums, no protobuf."""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

DEFAULT_MAX_ATTEMPTS = 5
DEFAULT_INITIAL_BACKOFF = timedelta(milliseconds=250)
DEFAULT_BACKOFF_BASE = 2.0


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how soon a failed work item runs again.

    The delay before attempt k+1 is ``initial_backoff * base ** (k - 1)``,
    multiplied by a random factor in [0.5, 1.5) and capped by ``max_backoff``
    when it is set. ``max_attempts`` counts every attempt, the first one
    included, so 1 means no retry.
    """

    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    initial_backoff: timedelta = DEFAULT_INITIAL_BACKOFF
    base: float = DEFAULT_BACKOFF_BASE
    max_backoff: timedelta | None = None

    def __post_init__(self) -> None:
        if isinstance(self.max_attempts, bool) or not isinstance(
            self.max_attempts, int
        ):
            raise TypeError(
                f"RetryPolicy.max_attempts must be an int, got {self.max_attempts!r}"
            )
        if self.max_attempts < 1:
            raise ValueError(
                f"RetryPolicy.max_attempts is {self.max_attempts}; it counts every "
                "attempt including the first, so use 1 or more (1 means no retry)"
            )
        _check_backoff("initial_backoff", self.initial_backoff)
        if self.max_backoff is not None:
            _check_backoff("max_backoff", self.max_backoff)
        if not isinstance(self.base, int | float) or isinstance(self.base, bool):
            raise TypeError(f"RetryPolicy.base must be a float, got {self.base!r}")
        if math.isnan(self.base) or self.base < 1:
            raise ValueError(
                f"RetryPolicy.base is {self.base}; use 1 or more (1 keeps the delay "
                "constant, 2 doubles it after each retry)"
            )


def _check_backoff(field: str, delay: object) -> None:
    if not isinstance(delay, timedelta):
        raise TypeError(
            f"RetryPolicy.{field} must be a timedelta, got {type(delay).__name__} "
            f"({delay!r})"
        )
    if delay < timedelta(0):
        raise ValueError(f"RetryPolicy.{field} is {delay}; use zero or more")


@dataclass(frozen=True)
class OnComplete:
    """A follow-up function that runs once when a work item finishes.

    The follow-up work item runs in the same pool and receives the args
    ``{"work_id", "context", "result"}``; ``Worker.on_complete`` decodes them.
    """

    function: str
    context: Any = None


# The ``retry`` argument of enqueue calls: None applies the pool's default,
# True the pool's retry policy, False a single attempt.
RetryOption = bool | RetryPolicy | None


@dataclass(frozen=True)
class WorkItem:
    """One work item to enqueue with ``enqueue_batch``."""

    function: str
    args: Any = None
    retry: RetryOption = None
    on_complete: OnComplete | None = None
    run_at: datetime | None = None
    run_after: timedelta | None = None
    idempotency_key: str | None = None
    concurrency_key: str | None = None
    """Items with the same key run at most the pool's ``max_per_key`` at once."""
    priority: int = 0
    """Higher starts first, from -1,000,000 to 1,000,000."""
    attempt_timeout: timedelta | None = None
    """Maximum run time of one attempt; None applies the pool's default."""

    def __post_init__(self) -> None:
        if not isinstance(self.function, str) or not self.function:
            raise ValueError(
                f"function must be a non-empty str naming a registered handler, "
                f"got {self.function!r}"
            )
        if self.retry is not None and not isinstance(self.retry, bool | RetryPolicy):
            raise TypeError(
                f"retry must be None, True, False or a RetryPolicy, got {self.retry!r}"
            )
        if self.on_complete is not None and not isinstance(
            self.on_complete, OnComplete
        ):
            raise TypeError(
                f"on_complete must be an OnComplete, got {self.on_complete!r}; "
                'write OnComplete("function.name", context)'
            )
        if self.run_at is not None and self.run_after is not None:
            raise ValueError("run_at and run_after are both set; pass only one of them")
        if isinstance(self.priority, bool) or not isinstance(self.priority, int):
            raise TypeError(f"priority must be an int, got {self.priority!r}")


class WorkState(enum.StrEnum):
    """Lifecycle state of a work item."""

    PENDING = "pending"
    RUNNING = "running"
    FINISHED = "finished"
    # Only status_batch returns it; status raises NotFoundError instead.
    NOT_FOUND = "not_found"


class ResultKind(enum.StrEnum):
    """Kind of a work item's final result."""

    SUCCESS = "success"
    FAILURE = "failure"
    CANCELED = "canceled"


class AttemptOutcome(enum.StrEnum):
    """Outcome of one attempt of a work item."""

    SUCCESS = "success"
    FAILURE = "failure"
    LEASE_EXPIRED = "lease_expired"
    WORKER_LOST = "worker_lost"
    CANCELED = "canceled"
    CONTINUED = "continued"
    TIMED_OUT = "timed_out"


@dataclass(frozen=True)
class Attempt:
    """One attempt of a work item, as returned by ``status(...,
    include_attempts=True)``. ``ended_at`` and ``outcome`` are None while the
    attempt runs."""

    attempt: int
    worker_id: str
    worker_name: str
    started_at: datetime | None
    ended_at: datetime | None = None
    outcome: AttemptOutcome | None = None
    error: str = ""


@dataclass(frozen=True)
class Result:
    """Final result of a work item.

    ``return_value`` is set for a success and ``error`` for a failure.
    """

    kind: ResultKind
    return_value: Any = None
    error: str | None = None
    non_retryable: bool = False

    @property
    def succeeded(self) -> bool:
        return self.kind is ResultKind.SUCCESS

    @property
    def failed(self) -> bool:
        return self.kind is ResultKind.FAILURE

    @property
    def canceled(self) -> bool:
        return self.kind is ResultKind.CANCELED


@dataclass(frozen=True)
class WorkStatus:
    """Snapshot of one work item, as returned by ``status``."""

    work_id: str
    state: WorkState
    previous_attempts: int = 0
    result: Result | None = None
    pool: str = ""
    function: str = ""
    enqueued_at: datetime | None = None
    ready_at: datetime | None = None
    finished_at: datetime | None = None
    last_error: str | None = None
    concurrency_key: str | None = None
    priority: int = 0
    continuations: int = 0
    """Attempts that ended with a continuation; ``previous_attempts`` counts
    them too."""
    attempts: tuple[Attempt, ...] = ()
    """Attempt history, oldest first; empty unless requested."""


@dataclass(frozen=True)
class Completion:
    """One entry of the completion log: a work item's final result."""

    sequence: int
    work_id: str
    pool: str
    function: str
    result: Result
    context: Any = None
    attempts: int = 0
    finished_at: datetime | None = None
    continuations: int = 0


@dataclass(frozen=True)
class CompletionEvent:
    """Args of an on_complete follow-up: which item finished, and how."""

    work_id: str
    context: Any
    result: Result

    @classmethod
    def from_args(cls, args: Any) -> CompletionEvent:
        """Decode the follow-up args ``{"work_id", "context", "result"}``.

        Raises:
            ValueError: ``args`` does not have that shape.
        """
        if not isinstance(args, Mapping):
            raise ValueError(
                f"on_complete args must be an object with work_id, context and "
                f"result, got {type(args).__name__}"
            )

        work_id = args.get("work_id")
        if not isinstance(work_id, str) or not work_id:
            raise ValueError(f"on_complete args have no valid work_id: {work_id!r}")

        return cls(
            work_id=work_id,
            context=args.get("context"),
            result=_decode_follow_up_result(args.get("result")),
        )


def _decode_follow_up_result(raw: Any) -> Result:
    if not isinstance(raw, Mapping):
        raise ValueError(f"on_complete args have no valid result object: {raw!r}")

    kind = raw.get("kind")
    if kind == ResultKind.SUCCESS:
        return Result(ResultKind.SUCCESS, return_value=raw.get("return_value"))
    if kind == ResultKind.FAILURE:
        error = raw.get("error")
        return Result(ResultKind.FAILURE, error="" if error is None else str(error))
    if kind == ResultKind.CANCELED:
        return Result(ResultKind.CANCELED)
    raise ValueError(
        f"on_complete result has the kind {kind!r}; expected "
        '"success", "failure" or "canceled"'
    )


class WaitReason(enum.StrEnum):
    """Reason a work item is not running now."""

    POOL_PAUSED = "pool_paused"
    POOL_AT_LIMIT = "pool_at_limit"
    SCHEDULED = "scheduled"
    BACKING_OFF = "backing_off"
    NO_WORKER = "no_worker"
    WORKERS_BUSY = "workers_busy"
    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"
    KEY_AT_LIMIT = "key_at_limit"
    RATE_LIMITED = "rate_limited"
    CIRCUIT_OPEN = "circuit_open"


@dataclass(frozen=True)
class Explanation:
    """Reason a work item is not running now, with the ids and times involved."""

    reason: WaitReason
    detail: str
    status: WorkStatus
    until: datetime | None = None
    running_work_ids: tuple[str, ...] = ()
    worker_id: str = ""
    since: datetime | None = None
    ahead_count: int = 0


class CancelOutcome(enum.StrEnum):
    """Outcome of a cancel request."""

    # The item was pending and is now finished as canceled.
    CANCELED = "canceled"
    # The item is running and its worker got a cancel request.
    CANCEL_REQUESTED = "cancel_requested"
    # The item had already finished; nothing changed.
    ALREADY_FINISHED = "already_finished"
    # No such item, or its status expired; nothing changed.
    NOT_FOUND = "not_found"


@dataclass(frozen=True)
class CancelAllResult:
    """Counts of what ``cancel_all`` did."""

    canceled_count: int
    cancel_requested_count: int


@dataclass(frozen=True)
class RateLimit:
    """Token bucket that limits how fast a pool starts items, across replicas.

    ``per_second`` tokens are added each second, up to ``burst``; each start
    takes one.
    """

    per_second: float
    burst: int = 1


@dataclass(frozen=True)
class CircuitBreaker:
    """Pauses a pool's new starts while too many of its attempts fail.

    When at least ``min_attempts`` attempts ended within ``window`` and the
    failed fraction reaches ``failure_rate``, the breaker opens for
    ``cool_down``. Then one probe attempt starts: its success closes the
    breaker, its failure opens it again.
    """

    failure_rate: float
    window: timedelta = timedelta(seconds=60)
    min_attempts: int = 10
    cool_down: timedelta = timedelta(seconds=30)


class CircuitState(enum.StrEnum):
    """State of a pool's circuit breaker."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True)
class PoolStats:
    """Counts of a pool's unfinished items and the state of its breaker."""

    pending_count: int
    running_count: int
    circuit_state: CircuitState | None = None
    """None when the pool has no circuit breaker."""
    circuit_open_until: datetime | None = None
    borrowed_count: int = 0
    """Running items that use the parent's slots."""


@dataclass(frozen=True)
class Pool:
    """A named queue and its settings.

    ``max_parallelism`` 0 pauses the pool. ``stats`` is set only by
    ``get_pool``. ``docs/scheduling.md`` describes the scheduling settings.
    """

    name: str
    max_parallelism: int = 10
    retry_by_default: bool = False
    default_retry: RetryPolicy = RetryPolicy()
    status_ttl: timedelta = timedelta(hours=24)
    keep_status_forever: bool = False
    stats: PoolStats | None = None
    max_per_key: int = 0
    priority_aging: timedelta = timedelta(seconds=1)
    rate_limit: RateLimit | None = None
    default_attempt_timeout: timedelta | None = None
    circuit_breaker: CircuitBreaker | None = None
    parent: str | None = None


class Unset(enum.Enum):
    """Marker of an argument that the caller did not pass."""

    UNSET = enum.auto()


UNSET = Unset.UNSET
