"""Python client and worker of the Workpool gRPC work-pool service."""

from workpool._async_client import AsyncClient
from workpool._client import Client
from workpool._errors import (
    AlreadyExistsError,
    DeadlineExceededError,
    FailedPreconditionError,
    FieldViolation,
    InternalError,
    InvalidArgumentError,
    NonRetryableError,
    NotFoundError,
    OutOfRangeError,
    PermissionDeniedError,
    ResourceExhaustedError,
    UnauthenticatedError,
    UnavailableError,
    UnimplementedError,
    WorkpoolError,
)
from workpool._handlers import WorkContext
from workpool._models import (
    CancelAllResult,
    CancelOutcome,
    Completion,
    CompletionEvent,
    OnComplete,
    Pool,
    PoolStats,
    Result,
    ResultKind,
    RetryPolicy,
    WorkItem,
    WorkState,
    WorkStatus,
)
from workpool._values import from_value, to_value
from workpool._worker import Worker
from workpool._workpool import AsyncWorkpool, Workpool

__all__ = [
    "AlreadyExistsError",
    "AsyncClient",
    "AsyncWorkpool",
    "CancelAllResult",
    "CancelOutcome",
    "Client",
    "Completion",
    "CompletionEvent",
    "DeadlineExceededError",
    "FailedPreconditionError",
    "FieldViolation",
    "InternalError",
    "InvalidArgumentError",
    "NonRetryableError",
    "NotFoundError",
    "OnComplete",
    "OutOfRangeError",
    "PermissionDeniedError",
    "Pool",
    "PoolStats",
    "ResourceExhaustedError",
    "Result",
    "ResultKind",
    "RetryPolicy",
    "UnauthenticatedError",
    "UnavailableError",
    "UnimplementedError",
    "WorkContext",
    "WorkItem",
    "WorkState",
    "WorkStatus",
    "Worker",
    "Workpool",
    "WorkpoolError",
    "from_value",
    "to_value",
]
