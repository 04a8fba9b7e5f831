"""Exceptions of the SDK and the one place where gRPC errors become them."""

from __future__ import annotations

from dataclasses import dataclass

import grpc
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status


@dataclass(frozen=True)
class FieldViolation:
    """One invalid field of a request, from a ``google.rpc.BadRequest``."""

    field: str
    description: str


class WorkpoolError(Exception):
    """Root of every exception that the SDK raises on purpose.

    Errors returned by the server carry the gRPC ``code`` and the server's
    ``details`` message. Invalid Python input (a naive datetime, a set in
    args) raises the built-in ``TypeError`` or ``ValueError`` instead.
    """

    code: grpc.StatusCode | None = None

    def __init__(
        self,
        details: str,
        *,
        code: grpc.StatusCode | None = None,
        status: status_pb2.Status | None = None,
    ) -> None:
        super().__init__(details)
        self.details = details
        if code is not None:
            self.code = code
        self.status = status


class InvalidArgumentError(WorkpoolError):
    """The server rejected a request field (INVALID_ARGUMENT).

    ``field_violations`` lists each invalid field, such as ``work[3].args``,
    with the rule it broke.
    """

    code = grpc.StatusCode.INVALID_ARGUMENT

    def __init__(
        self,
        details: str,
        *,
        code: grpc.StatusCode | None = None,
        status: status_pb2.Status | None = None,
        field_violations: tuple[FieldViolation, ...] = (),
    ) -> None:
        super().__init__(details, code=code, status=status)
        self.field_violations = field_violations

    def __str__(self) -> str:
        # Servers often repeat the violations in the message; add only the
        # ones that it leaves out.
        missing = [
            f"{violation.field}: {violation.description}"
            for violation in self.field_violations
            if violation.description not in self.details
        ]
        if not missing:
            return self.details
        return f"{self.details} ({'; '.join(missing)})"


class NotFoundError(WorkpoolError):
    """The pool or work item does not exist, or its status expired (NOT_FOUND)."""

    code = grpc.StatusCode.NOT_FOUND


class AlreadyExistsError(WorkpoolError):
    """A pool of that name already exists (ALREADY_EXISTS)."""

    code = grpc.StatusCode.ALREADY_EXISTS


class FailedPreconditionError(WorkpoolError):
    """The request does not fit the current state, such as deleting a busy pool."""

    code = grpc.StatusCode.FAILED_PRECONDITION


class ResourceExhaustedError(WorkpoolError):
    """A request or message exceeded a size or count limit (RESOURCE_EXHAUSTED)."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class OutOfRangeError(WorkpoolError):
    """The completion log no longer contains the requested entries (OUT_OF_RANGE)."""

    code = grpc.StatusCode.OUT_OF_RANGE


class UnavailableError(WorkpoolError):
    """The server cannot be reached or is shutting down (UNAVAILABLE)."""

    code = grpc.StatusCode.UNAVAILABLE


class DeadlineExceededError(WorkpoolError):
    """The call did not finish before its deadline (DEADLINE_EXCEEDED)."""

    code = grpc.StatusCode.DEADLINE_EXCEEDED


class UnauthenticatedError(WorkpoolError):
    """The call carried no valid credentials (UNAUTHENTICATED)."""

    code = grpc.StatusCode.UNAUTHENTICATED


class PermissionDeniedError(WorkpoolError):
    """The caller may not perform this call (PERMISSION_DENIED)."""

    code = grpc.StatusCode.PERMISSION_DENIED


class UnimplementedError(WorkpoolError):
    """The server does not implement this call (UNIMPLEMENTED)."""

    code = grpc.StatusCode.UNIMPLEMENTED


class InternalError(WorkpoolError):
    """The server failed while handling the call (INTERNAL, UNKNOWN, DATA_LOSS)."""

    code = grpc.StatusCode.INTERNAL


class NonRetryableError(WorkpoolError):
    """Raise from a worker handler to fail the work item without a retry.

    The attempt is reported as a failure marked non-retryable, so the item
    ends as failed even when its retry policy has attempts left.
    """


# Status codes without an entry here (CANCELLED, ABORTED) raise WorkpoolError.
_ERROR_CLASSES: dict[grpc.StatusCode, type[WorkpoolError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgumentError,
    grpc.StatusCode.NOT_FOUND: NotFoundError,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExistsError,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPreconditionError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhaustedError,
    grpc.StatusCode.OUT_OF_RANGE: OutOfRangeError,
    grpc.StatusCode.UNAVAILABLE: UnavailableError,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceededError,
    grpc.StatusCode.UNAUTHENTICATED: UnauthenticatedError,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDeniedError,
    grpc.StatusCode.UNIMPLEMENTED: UnimplementedError,
    grpc.StatusCode.INTERNAL: InternalError,
    grpc.StatusCode.UNKNOWN: InternalError,
    grpc.StatusCode.DATA_LOSS: InternalError,
}


def error_class_for(code: grpc.StatusCode) -> type[WorkpoolError]:
    """Return the exception class that the SDK raises for a status code."""
    return _ERROR_CLASSES.get(code, WorkpoolError)


def from_rpc_error(error: grpc.RpcError) -> WorkpoolError:
    """Convert an error of a sync or asyncio gRPC call to a WorkpoolError.

    Works for both kinds because ``grpc.aio.AioRpcError`` offers the same
    synchronous ``code()``, ``details()`` and ``trailing_metadata()`` as a
    finished sync call.
    """
    code = _call_code(error)
    details = _call_details(error) or code.name
    status = _rich_status(error)
    error_class = error_class_for(code)

    if error_class is InvalidArgumentError:
        return InvalidArgumentError(
            details,
            code=code,
            status=status,
            field_violations=_field_violations(status),
        )
    return error_class(details, code=code, status=status)


def _call_code(error: grpc.RpcError) -> grpc.StatusCode:
    code = getattr(error, "code", None)
    if callable(code):
        result = code()
        if isinstance(result, grpc.StatusCode):
            return result
    return grpc.StatusCode.UNKNOWN


def _call_details(error: grpc.RpcError) -> str:
    details = getattr(error, "details", None)
    if callable(details):
        return details() or ""
    return str(error)


def _rich_status(error: grpc.RpcError) -> status_pb2.Status | None:
    if not callable(getattr(error, "trailing_metadata", None)):
        return None

    # A status detail that disagrees with the call's code or message is a
    # server bug; keep the plain code and message rather than hide them.
    try:
        return rpc_status.from_call(error)
    except ValueError:
        return None


def _field_violations(status: status_pb2.Status | None) -> tuple[FieldViolation, ...]:
    if status is None:
        return ()

    violations: list[FieldViolation] = []
    for detail in status.details:
        if not detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            continue
        bad_request = error_details_pb2.BadRequest()
        detail.Unpack(bad_request)
        for violation in bad_request.field_violations:
            violations.append(FieldViolation(violation.field, violation.description))
    return tuple(violations)
