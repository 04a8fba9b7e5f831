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


class AttemptOutcome(enum.IntEnum):
    """Outcome of one attempt, as stored in the attempts table."""

    SUCCESS = 1
    FAILURE = 2
    LEASE_EXPIRED = 3
    WORKER_LOST = 4
    CANCELED = 5


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


@dataclass(frozen=True)
class PoolSettings:
    name: str
    max_parallelism: int = DEFAULT_MAX_PARALLELISM
    retry_by_default: bool = False
    default_retry: RetryPolicy = RetryPolicy()
    status_ttl_us: int | None = DEFAULT_STATUS_TTL_US
    """None keeps finished status forever."""


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
    trace_context: str | None = None
    """W3C trace context of the enqueue span, as JSON; None when not traced."""


@dataclass(frozen=True)
class Outcome:
    """A final result, or one attempt's result."""

    kind: ResultKind
    return_value: bytes | None = None
    error: str = ""
    non_retryable: bool = False


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


@dataclass(frozen=True)
class CancelNotice:
    """A cancel request to deliver to the worker stream that holds a lease."""

    work_id: str
    attempt: int
    lease_owner: str
    lease_lost: bool = False


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

    def count(self, counter: dict[str, int], pool: str, amount: int = 1) -> None:
        counter[pool] = counter.get(pool, 0) + amount
