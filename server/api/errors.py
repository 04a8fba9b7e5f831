"""The one place where domain errors become gRPC status codes."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from workpool_server.api.decoding import check_decoded
from workpool_server.errors import (
    AlreadyExistsError,
    FailedPreconditionError,
    InvalidArgumentError,
    LimitExceededError,
    NotFoundError,
    OutOfRangeError,
    UnavailableError,
    WorkpoolError,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")

STATUS_CODES: dict[type[WorkpoolError], grpc.StatusCode] = {
    InvalidArgumentError: grpc.StatusCode.INVALID_ARGUMENT,
    LimitExceededError: grpc.StatusCode.RESOURCE_EXHAUSTED,
    NotFoundError: grpc.StatusCode.NOT_FOUND,
    AlreadyExistsError: grpc.StatusCode.ALREADY_EXISTS,
    FailedPreconditionError: grpc.StatusCode.FAILED_PRECONDITION,
    OutOfRangeError: grpc.StatusCode.OUT_OF_RANGE,
    UnavailableError: grpc.StatusCode.UNAVAILABLE,
}


def to_status(error: WorkpoolError) -> grpc.Status:
    """Build the rich status for a domain error, with BadRequest details."""
    code = STATUS_CODES[type(error)]
    status = status_pb2.Status(code=getattr(code_pb2, code.name), message=str(error))
    violations = getattr(error, "violations", None)
    if violations:
        detail = any_pb2.Any()
        detail.Pack(
            error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(
                        field=violation.field, description=violation.description
                    )
                    for violation in violations
                ]
            )
        )
        status.details.append(detail)
    return rpc_status.to_status(status)


async def abort(context: grpc.aio.ServicerContext, error: WorkpoolError) -> None:
    await context.abort_with_status(to_status(error))


def mapped(
    handler: Callable[..., Awaitable[T]],
) -> Callable[..., Awaitable[T]]:
    """Wrap a unary handler so that domain errors become status codes."""

    async def wrapper(self, request, context):  # type: ignore[no-untyped-def]
        try:
            check_decoded(request)
            return await handler(self, request, context)
        except WorkpoolError as error:
            await abort(context, error)
            raise  # abort_with_status raises; this line is never reached

    wrapper.__name__ = handler.__name__
    wrapper.__doc__ = handler.__doc__
    return wrapper
