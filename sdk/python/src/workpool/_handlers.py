"""Worker handlers: their context, how they are called, how results are built."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import logging
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from workpool._errors import NonRetryableError
from workpool._models import CompletionEvent
from workpool._values import from_value, to_value
from workpool.v1 import worker_service_pb2

logger = logging.getLogger(__name__)

# A handler receives the WorkContext and the decoded args. It may be a plain
# function, run in the worker's thread pool, or a coroutine function, run as
# a task on the worker's event loop.
Handler = Callable[["WorkContext", Any], Any]


@dataclass
class WorkContext:
    """Attempt details and cancel signal passed to a handler.

    ``cancel_requested`` is set when a client cancels the item, when the
    server reports the lease lost or the attempt timed out (past
    ``deadline``), when the stream that assigned the attempt closes, and when
    a stopping worker's grace period ends. Cancellation is
    cooperative: an async handler can ``await context.cancel_requested.wait()``
    or check ``is_set()``, and a sync handler, which runs in a thread, calls
    ``is_cancel_requested()``. After a client's cancel, a handler that still
    returns reports success; in the other cases its result is dropped.
    """

    work_id: str
    attempt: int
    pool: str
    function: str
    lease_expires_at: datetime | None = None
    deadline: datetime | None = None
    """Time the server ends the attempt as timed out, None without a timeout."""
    cancel_requested: asyncio.Event = field(default_factory=asyncio.Event)
    _cancel_flag: threading.Event = field(default_factory=threading.Event, repr=False)

    def is_cancel_requested(self) -> bool:
        """Return True once a cancel was requested; safe to call from any thread."""
        return self._cancel_flag.is_set()

    def _request_cancel(self) -> None:
        """Signal the handler to stop; call it on the worker's event loop."""
        self._cancel_flag.set()
        self.cancel_requested.set()


@dataclass(frozen=True)
class Continue:
    """Return value of a handler that requests another run of its item at once.

    The item keeps its id and starts over with ``args`` and a fresh retry
    budget; its status and final completion count the continuations. Use it
    to split long work into steps, each carrying its progress in ``args``.
    """

    args: Any = None


@dataclass(frozen=True)
class RegisteredHandler:
    """A handler and how to call it."""

    function: str
    handler: Handler
    is_async: bool


def register_handler(function: str, handler: Handler) -> RegisteredHandler:
    """Check a handler and record whether it is a coroutine function."""
    if not isinstance(function, str) or not function:
        raise ValueError(
            f"function must be a non-empty str such as 'email.send', got {function!r}"
        )
    if not callable(handler):
        raise TypeError(f"handler for {function!r} must be callable, got {handler!r}")
    return RegisteredHandler(function, handler, _is_coroutine_function(handler))


def _is_coroutine_function(handler: Any) -> bool:
    if inspect.iscoroutinefunction(handler):
        return True
    # An instance whose __call__ is a coroutine function.
    return inspect.iscoroutinefunction(getattr(handler, "__call__", None))  # noqa: B004


def completion_handler(
    handler: Callable[[WorkContext, CompletionEvent], Any],
) -> Handler:
    """Wrap an on_complete handler so it receives a decoded CompletionEvent."""

    def decode(args: Any) -> CompletionEvent:
        try:
            return CompletionEvent.from_args(args)
        except ValueError as error:
            # Malformed follow-up args stay malformed on every retry.
            raise NonRetryableError(str(error)) from error

    if _is_coroutine_function(handler):

        @functools.wraps(handler)
        async def run_async(context: WorkContext, args: Any) -> Any:
            return await handler(context, decode(args))

        return run_async

    @functools.wraps(handler)
    def run_sync(context: WorkContext, args: Any) -> Any:
        return handler(context, decode(args))

    return run_sync


async def run_handler(
    registered: RegisteredHandler | None,
    context: WorkContext,
    raw_args: Any,
    executor: Executor,
) -> worker_service_pb2.AttemptResult:
    """Run one attempt and build the AttemptResult to report.

    Exceptions become failures: NonRetryableError is marked non-retryable,
    and anything else is reported as ``"TypeName: message"`` and retried per
    the item's policy.
    """
    result = worker_service_pb2.AttemptResult(
        work_id=context.work_id, attempt=context.attempt
    )
    log_extra = {
        "work_id": context.work_id,
        "attempt": context.attempt,
        "function": context.function,
        "pool": context.pool,
    }

    if registered is None:
        # The hello listed only registered functions, so this is a server bug.
        logger.error("Assignment for an unregistered function", extra=log_extra)
        result.failure.error = (
            f"no handler is registered for {context.function!r} on this worker"
        )
        result.failure.non_retryable = True
        return result

    try:
        value = await _call(registered, context, from_value(raw_args), executor)
    except NonRetryableError as error:
        logger.warning("Handler failed; not retrying", extra=log_extra, exc_info=True)
        result.failure.error = _error_message(error)
        result.failure.non_retryable = True
        return result
    except Exception as error:
        logger.warning("Handler failed", extra=log_extra, exc_info=True)
        result.failure.error = _error_message(error)
        return result

    if isinstance(value, Continue):
        return _continuation_result(result, value, log_extra)

    try:
        return_value = to_value(value, name="return value")
    except (TypeError, ValueError) as error:
        # The same code returns the same kind of value on every retry.
        logger.warning("Handler returned a non-JSON value", extra=log_extra)
        result.failure.error = _error_message(error)
        result.failure.non_retryable = True
        return result

    try:
        result.success.return_value.CopyFrom(return_value)
    except Exception as error:
        # protobuf refuses some values that to_value built, such as ones past
        # its recursion limit. Reporting the failure keeps the worker going.
        logger.warning("Handler returned a value protobuf rejects", extra=log_extra)
        result.failure.error = _error_message(error)
        result.failure.non_retryable = True
    return result


async def _call(
    registered: RegisteredHandler,
    context: WorkContext,
    args: Any,
    executor: Executor,
) -> Any:
    if registered.is_async:
        coroutine: Awaitable[Any] = registered.handler(context, args)
        return await coroutine

    # Copy the context variables into the thread as asyncio.to_thread does.
    loop = asyncio.get_running_loop()
    variables = contextvars.copy_context()
    return await loop.run_in_executor(
        executor, variables.run, registered.handler, context, args
    )


def _continuation_result(
    result: worker_service_pb2.AttemptResult, value: Continue, log_extra: dict
) -> worker_service_pb2.AttemptResult:
    try:
        args = to_value(value.args, name="Continue.args")
    except (TypeError, ValueError) as error:
        logger.warning("Handler continued with non-JSON args", extra=log_extra)
        result.failure.error = _error_message(error)
        result.failure.non_retryable = True
        return result
    result.continuation.args.CopyFrom(args)
    return result


def failure_result(
    context: WorkContext, error: BaseException
) -> worker_service_pb2.AttemptResult:
    """Return a failure report of the attempt in `context`, for errors raised
    outside the handler."""
    result = worker_service_pb2.AttemptResult(
        work_id=context.work_id, attempt=context.attempt
    )
    result.failure.error = _error_message(error)
    return result


def _error_message(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"
