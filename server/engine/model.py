"""Domain objects of the engine. Payloads in them are opaque bytes.

Args, contexts and return values arrive serialized by the API layer as
google.protobuf.Value in wire format. The engine stores and returns them
unchanged and never parses them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

DEFAULT_MAX_PARALLELISM = 10
DEFAULT_STATUS_TTL_US = 24 * 3600 * 1_000_000


class WorkState(enum.IntEnum):
    PENDING = 1
    RUNNING = 2
    FINISHED = 3


class Lane(enum.IntEnum):
    """Dispatch lane: follow-ups go first and hold no parallelism slot."""

    FOLLOW_UP = 0
    NORMAL = 1


class ResultKind(enum.IntEnum):
    SUCCESS = 1
    FAILURE = 2
    CANCELED = 3
    # An attempt that requests another run of the item with new args. It ends an
    # attempt, never an item, so no final result or completion has this kind.
    CONTINUATION = 4


class AttemptOutcome(enum.IntEnum):
    """Outcome of one attempt, as stored in the attempts table."""

    SUCCESS = 1
    FAILURE = 2
    LEASE_EXPIRED = 3
    WORKER_LOST = 4
    CANCELED = 5
    CONTINUED = 6
    TIMED_OUT = 7


@dataclass(frozen=True)
class AttemptView:
    """One attempt of a work item; ended_at_us and outcome are None while
    it runs."""

    work_id: str
    attempt: int
    worker_id: str
    worker_name: str
    started_at_us: int
    ended_at_us: int | None
    outcome: AttemptOutcome | None
    error: str


class CancelOutcome(enum.IntEnum):
    CANCELED = 1
    CANCEL_REQUESTED = 2
    ALREADY_FINISHED = 3
    NOT_FOUND = 4


@dataclass(frozen=True)
class RetryPolicy:
    """A resolved retry policy: every field has its final value."""

    max_attempts: int = 5
    initial_backoff_us: int = 250_000
    base: float = 2.0
    max_backoff_us: int | None = None


NO_RETRY = RetryPolicy(max_attempts=1)


# Scheduling defaults, applied when a pool leaves the setting unset.
DEFAULT_PRIORITY_AGING_US = 1_000_000
DEFAULT_BREAKER_WINDOW_US = 60_000_000
DEFAULT_BREAKER_MIN_ATTEMPTS = 10
DEFAULT_BREAKER_COOL_DOWN_US = 30_000_000


@dataclass(frozen=True)
class RateLimit:
    """Token bucket of a pool: `per_second` tokens added, at most `burst` held."""

    per_second: float
    burst: int = 1


@dataclass(frozen=True)
class CircuitBreaker:
    """Failure-rate breaker of a pool, with every default resolved."""

    failure_rate: float
    window_us: int = DEFAULT_BREAKER_WINDOW_US
    min_attempts: int = DEFAULT_BREAKER_MIN_ATTEMPTS
    cool_down_us: int = DEFAULT_BREAKER_COOL_DOWN_US


class CircuitState(enum.IntEnum):
    CLOSED = 1
    OPEN = 2
    HALF_OPEN = 3


@dataclass(frozen=True)
class PoolSettings:
    name: str
    max_parallelism: int = DEFAULT_MAX_PARALLELISM
    retry_by_default: bool = False
    default_retry: RetryPolicy = RetryPolicy()
    status_ttl_us: int | None = DEFAULT_STATUS_TTL_US
    """None keeps finished status forever."""
    max_per_key: int = 0
    """Running items per concurrency key; 0 means no per-key limit."""
    priority_aging_us: int = DEFAULT_PRIORITY_AGING_US
    rate_limit: RateLimit | None = None
    default_attempt_timeout_us: int | None = None
    circuit_breaker: CircuitBreaker | None = None
    parent: str | None = None
    """Pool whose idle slots this pool may borrow."""


@dataclass(frozen=True)
class SchedulingStats:
    """A pool's breaker state and borrowed count, for GetPool."""

    circuit_state: CircuitState | None
    circuit_open_until_us: int | None
    borrowed_count: int


class RetryChoice(enum.Enum):
    """Source of a work item's retry policy."""

    POOL_DEFAULT = "pool_default"
    POOL_POLICY = "pool_policy"
    NONE = "none"
    CUSTOM = "custom"


@dataclass(frozen=True)
class NewWork:
    """A validated work item to insert."""

    function: str
    args: bytes
    retry_choice: RetryChoice = RetryChoice.POOL_DEFAULT
    custom_retry: RetryPolicy | None = None
    on_complete_function: str | None = None
    on_complete_context: bytes | None = None
    run_at_us: int | None = None
    run_after_us: int | None = None
    idempotency_key: str | None = None
    concurrency_key: str | None = None
    priority: int = 0
    attempt_timeout_us: int | None = None
    trace_context: str | None = None
    """W3C trace context of the enqueue span, as JSON; None when not traced."""


@dataclass(frozen=True)
class Outcome:
    """A final result, or one attempt's result."""

    kind: ResultKind
    return_value: bytes | None = None
    error: str = ""
    non_retryable: bool = False
    continuation_args: bytes | None = None
    """Args of the next run, for a CONTINUATION outcome only."""


@dataclass(frozen=True)
class WorkStatusView:
    work_id: str
    pool: str
    function: str
    state: WorkState
    previous_attempts: int
    enqueued_at_us: int
    ready_at_us: int | None
    finished_at_us: int | None
    result: Outcome | None
    last_error: str
    concurrency_key: str | None = None
    priority: int = 0
    continuations: int = 0


class WaitReason(enum.IntEnum):
    POOL_PAUSED = 1
    POOL_AT_LIMIT = 2
    SCHEDULED = 3
    BACKING_OFF = 4
    NO_WORKER = 5
    WORKERS_BUSY = 6
    QUEUED = 7
    RUNNING = 8
    FINISHED = 9
    KEY_AT_LIMIT = 10
    RATE_LIMITED = 11
    CIRCUIT_OPEN = 12


@dataclass(frozen=True)
class Explanation:
    """Reason one work item is not running now, with its details."""

    reason: WaitReason
    detail: str
    status: WorkStatusView
    until_us: int | None = None
    running_work_ids: tuple[str, ...] = ()
    worker_id: str = ""
    since_us: int | None = None
    ahead_count: int = 0


@dataclass(frozen=True)
class CompletionRecord:
    sequence: int
    work_id: str
    pool: str
    function: str
    outcome: Outcome
    context: bytes | None
    attempts: int
    finished_at_us: int
    continuations: int = 0


@dataclass(frozen=True)
class Assignment:
    work_id: str
    attempt: int
    function: str
    args: bytes
    pool: str
    lease_expires_at_us: int
    lease_owner: str
    lane: Lane
    ready_at_us: int
    deadline_us: int | None = None
    trace_context: dict[str, str] | None = None
    """W3C trace context of the dispatch span, set only while tracing."""


@dataclass(frozen=True)
class AttemptReport:
    """A worker's report of how one attempt ended."""

    work_id: str
    attempt: int
    outcome: Outcome


@dataclass(frozen=True)
class ResultAck:
    work_id: str
    attempt: int
    accepted: bool


class CancelCause(enum.IntEnum):
    """Reason the server sends a worker a cancel request for an attempt."""

    REQUESTED = 1
    LEASE_LOST = 2
    TIMEOUT = 3


@dataclass(frozen=True)
class CancelNotice:
    """A cancel request to deliver to the worker stream that holds a lease."""

    work_id: str
    attempt: int
    lease_owner: str
    cause: CancelCause = CancelCause.REQUESTED


@dataclass
class Effects:
    """Side effects of a transaction, applied by the engine after it commits."""

    completions: list[CompletionRecord] = field(default_factory=list)
    cancels: list[CancelNotice] = field(default_factory=list)
    assignments: list[Assignment] = field(default_factory=list)
    enqueued: dict[str, int] = field(default_factory=dict)
    retried: dict[str, int] = field(default_factory=dict)
    run_durations: list[tuple[str, float]] = field(default_factory=list)
    wake_dispatch: bool = False
    # The earliest time at which a row this transaction wrote expires, and,
    # from a dispatch pass, when the next maintenance step is due.
    expiry_us: int | None = None
    maintenance_due_us: int | None = None

    def count(self, counter: dict[str, int], pool: str, amount: int = 1) -> None:
        counter[pool] = counter.get(pool, 0) + amount

    def expires(self, at_us: int) -> None:
        if self.expiry_us is None or at_us < self.expiry_us:
            self.expiry_us = at_us
