"""``Worker``: runs registered handlers for the assignments of a Work stream.

One worker keeps one ``WorkerService.Work`` stream open at a time. Each
assignment uses one credit of the server. The worker grants a credit back for
each finished attempt, in the same message as its result, so at most
``capacity`` attempts are leased to the stream at once. When the stream
fails, the server has already ended every attempt leased to it. The worker
then asks those handlers to cancel, drops their results, and reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any, TypeVar

import grpc

from workpool._backoff import Backoff
from workpool._channel import ChannelOptions, aio_channel
from workpool._errors import from_rpc_error
from workpool._handlers import (
    Handler,
    RegisteredHandler,
    WorkContext,
    completion_handler,
    failure_result,
    register_handler,
    run_handler,
)
from workpool._session import Attempt, Session
from workpool._times import optional_timestamp
from workpool._tracing import mark_failed, run_span
from workpool.v1 import worker_service_pb2, worker_service_pb2_grpc

logger = logging.getLogger(__name__)

MAX_CAPACITY = 10_000
DEFAULT_SHUTDOWN_GRACE = timedelta(seconds=30)
DEFAULT_MAX_RECONNECT_DELAY = timedelta(seconds=30)

# How long a stopping worker waits for the server to end the stream after the
# worker half-closed it, before it cancels the call.
_CLOSE_TIMEOUT_SECONDS = 5.0

# Codes that mean the worker's settings or credentials are wrong, so a
# reconnect would fail the same way. NOT_FOUND is not among them because a
# worker may start before a client creates its pool.
_FATAL_CODES = frozenset(
    {
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.UNAUTHENTICATED,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.UNIMPLEMENTED,
    }
)

_HandlerT = TypeVar("_HandlerT", bound=Callable[..., Any])


class Worker:
    """Runs handlers for work items of the given pools.

    Register a handler per function name, then run the worker::

        worker = Worker("127.0.0.1:50051", pools=["email"], capacity=10)

        @worker.handler("email.send")
        async def send(context: WorkContext, args: dict) -> dict:
            ...

        worker.run()

    ``credentials`` turns on TLS (see ``tls_credentials``), and ``token`` sends
    ``authorization: Bearer TOKEN`` on the stream; the token needs the
    ``worker`` role.

    Handlers receive ``(context, args)``. Coroutine functions run as tasks on
    the worker's event loop; plain functions run in a pool of ``capacity``
    threads. At most ``capacity`` handlers run at once, across all pools.
    Raise ``NonRetryableError`` to fail the item without a retry; any other
    exception fails the attempt, which is retried per the item's policy.

    When opentelemetry-api is installed and an assignment carries a trace
    context, the handler runs in a ``workpool.run`` span continuing it, made
    by ``tracer_provider`` or, when it is None, by the global provider.
    """

    def __init__(
        self,
        target: str | grpc.aio.Channel,
        pools: Sequence[str],
        capacity: int = 10,
        name: str | None = None,
        *,
        credentials: grpc.ChannelCredentials | None = None,
        token: str | None = None,
        options: ChannelOptions | None = None,
        max_reconnect_delay: timedelta = DEFAULT_MAX_RECONNECT_DELAY,
        tracer_provider: Any = None,
    ) -> None:
        self._target = target
        self._tracer_provider = tracer_provider
        self._credentials = credentials
        self._token = token
        self._options = options
        self._pools = _check_pools(pools)
        self._capacity = _check_capacity(capacity)
        self._name = (
            name if name is not None else f"{socket.gethostname()}:{os.getpid()}"
        )
        self._max_reconnect_seconds = _seconds(
            max_reconnect_delay, "max_reconnect_delay"
        )
        self._handlers: dict[str, RegisteredHandler] = {}

        # State of a run, reset by run_async.
        self._running = False
        self._session: Session | None = None
        self._attempts: set[Attempt] = set()
        self._stopping = asyncio.Event()
        self._force_stop = asyncio.Event()
        self._closing = asyncio.Event()
        self._finished = asyncio.Event()
        self._state_changed = asyncio.Event()
        self._slots = asyncio.Semaphore(self._capacity)
        self._executor: ThreadPoolExecutor | None = None

    @property
    def functions(self) -> list[str]:
        """Names of the registered functions, in the order of the hello."""
        return sorted(self._handlers)

    # Registration.

    def register(self, function: str, handler: Handler) -> None:
        """Register ``handler(context, args)`` for work items calling ``function``.

        Raises:
            ValueError: ``function`` already has a handler.
            RuntimeError: the worker is running; its hello already listed the
                functions.
        """
        if self._running:
            raise RuntimeError(
                f"cannot register {function!r} while the worker runs; register "
                "every handler before run() or run_async()"
            )
        if function in self._handlers:
            raise ValueError(f"a handler for {function!r} is already registered")
        self._handlers[function] = register_handler(function, handler)

    def handler(self, function: str) -> Callable[[_HandlerT], _HandlerT]:
        """Decorator form of ``register``: ``@worker.handler("email.send")``."""

        def decorator(handler: _HandlerT) -> _HandlerT:
            self.register(function, handler)
            return handler

        return decorator

    def on_complete(self, function: str) -> Callable[[_HandlerT], _HandlerT]:
        """Register an on_complete follow-up: ``@worker.on_complete("email.done")``.

        The handler receives ``(context, CompletionEvent)`` with the finished
        item's id, the caller's context and its result. Follow-up args that
        cannot be decoded fail the follow-up without a retry.
        """

        def decorator(handler: _HandlerT) -> _HandlerT:
            self.register(function, completion_handler(handler))
            return handler

        return decorator

    # Running and stopping.

    def run(self, *, shutdown_grace: timedelta = DEFAULT_SHUTDOWN_GRACE) -> None:
        """Run until SIGINT or SIGTERM, then stop within ``shutdown_grace``.

        A second signal stops at once; attempts still running are then ended
        by the server as "worker lost" and retried per their policy.
        """
        _seconds(shutdown_grace, "shutdown_grace")
        asyncio.run(self._run_until_signal(shutdown_grace))

    async def run_async(self) -> None:
        """Run until ``stop`` is called.

        Raises:
            RuntimeError: no handler is registered, or the worker already runs.
            InvalidArgumentError: the server rejected the hello, such as for a
                capacity above its limit.
        """
        if self._running:
            raise RuntimeError("the worker is already running")
        if not self._handlers:
            raise RuntimeError(
                "no handler is registered; register one with @worker.handler(name) "
                "or worker.register(name, fn) before running the worker"
            )

        self._reset_run_state()
        channel, owns_channel = self._open_channel()
        stub = worker_service_pb2_grpc.WorkerServiceStub(channel)
        logger.info(
            "Worker starting",
            extra={
                "pools": self._pools,
                "functions": self.functions,
                "capacity": self._capacity,
                "worker_name": self._name,
            },
        )

        try:
            await self._connect_loop(stub)
        finally:
            await self._abandon_attempts()
            if self._executor is not None:
                self._executor.shutdown(wait=False, cancel_futures=True)
            if owns_channel:
                await channel.close()
            self._running = False
            self._finished.set()
            logger.info("Worker stopped", extra={"worker_name": self._name})

    async def stop(self, grace: timedelta = DEFAULT_SHUTDOWN_GRACE) -> None:
        """Stop taking work, let running handlers report, then close.

        The worker grants no more credit, waits up to ``grace`` for running
        handlers to finish and for the server to acknowledge their results,
        then closes the stream. Attempts still running then are ended by the
        server as "worker lost" and retried per their policy. A second call
        while the first waits skips the rest of the grace period. Call it on
        the event loop that runs the worker.
        """
        grace_seconds = _seconds(grace, "grace")
        if not self._running:
            return
        if self._stopping.is_set():
            self._force_stop.set()
            self._notify()
            await self._finished.wait()
            return

        self._stopping.set()
        logger.info(
            "Worker stopping",
            extra={"worker_name": self._name, "grace_seconds": grace_seconds},
        )

        try:
            await asyncio.wait_for(self._wait_drained(), timeout=grace_seconds)
        except TimeoutError:
            logger.warning(
                "Worker stop grace period elapsed with attempts running",
                extra={"work_ids": sorted(a.context.work_id for a in self._attempts)},
            )

        self._closing.set()
        if self._session is not None:
            self._session.wake.set()

        try:
            await asyncio.wait_for(self._finished.wait(), _CLOSE_TIMEOUT_SECONDS)
        except TimeoutError:
            # The server did not end the stream after the half-close.
            if self._session is not None:
                self._session.call.cancel()
            await self._finished.wait()

    async def _run_until_signal(self, grace: timedelta) -> None:
        loop = asyncio.get_running_loop()
        stop_tasks: list[asyncio.Task[None]] = []

        def on_signal(signum: int) -> None:
            logger.info(
                "Worker received a stop signal",
                extra={"signal": signal.Signals(signum).name},
            )
            stop_tasks.append(loop.create_task(self.stop(grace)))

        installed: list[int] = []
        for signum in (signal.SIGINT, signal.SIGTERM):
            # Event loops on Windows, and loops outside the main thread, have
            # no signal handlers; stop() remains the way to end the run there.
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signum, on_signal, signum)
                installed.append(signum)

        try:
            await self.run_async()
        finally:
            for signum in installed:
                loop.remove_signal_handler(signum)
            await asyncio.gather(*stop_tasks, return_exceptions=True)

    def _reset_run_state(self) -> None:
        self._running = True
        self._session = None
        self._attempts = set()
        self._stopping = asyncio.Event()
        self._force_stop = asyncio.Event()
        self._closing = asyncio.Event()
        self._finished = asyncio.Event()
        self._state_changed = asyncio.Event()
        self._slots = asyncio.Semaphore(self._capacity)
        self._executor = ThreadPoolExecutor(
            max_workers=self._capacity, thread_name_prefix="workpool-handler"
        )

    def _open_channel(self) -> tuple[grpc.aio.Channel, bool]:
        if isinstance(self._target, grpc.aio.Channel):
            return self._target, False
        channel = aio_channel(
            self._target,
            credentials=self._credentials,
            options=self._options,
            token=self._token,
        )
        return channel, True

    # Connection.

    async def _connect_loop(
        self, stub: worker_service_pb2_grpc.WorkerServiceStub
    ) -> None:
        backoff = Backoff(initial=0.5, maximum=self._max_reconnect_seconds)
        while not self._stopping.is_set():
            try:
                await self._run_session(stub, backoff)
            except grpc.RpcError as error:
                code = error.code()
                if code in _FATAL_CODES:
                    raise from_rpc_error(error) from error
                logger.warning(
                    "Worker stream failed; reconnecting",
                    extra={"code": code.name, "details": error.details()},
                )

            if self._stopping.is_set():
                return
            delay = backoff.next_delay()
            logger.debug("Worker reconnect delay", extra={"delay_seconds": delay})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)

    async def _run_session(
        self, stub: worker_service_pb2_grpc.WorkerServiceStub, backoff: Backoff
    ) -> None:
        call = stub.Work()
        session: Session | None = None
        try:
            hello = worker_service_pb2.Hello(
                pools=self._pools,
                functions=self.functions,
                capacity=self._capacity,
                worker_name=self._name,
            )
            # A call that already failed raises InvalidStateError on write;
            # the read below then raises its status.
            with contextlib.suppress(asyncio.InvalidStateError):
                await call.write(worker_service_pb2.WorkRequest(hello=hello))

            first = await call.read()
            if first is grpc.aio.EOF:
                logger.warning("Server ended the worker stream before its welcome")
                return
            if not first.HasField("welcome"):
                logger.error("Server's first worker stream message has no welcome")
                return

            session = Session(call, first.welcome)
            self._session = session
            backoff.reset()
            logger.info(
                "Worker connected",
                extra={
                    "worker_id": session.worker_id,
                    "heartbeat_seconds": session.heartbeat_seconds,
                },
            )

            self._handle_response(session, first)
            await self._serve(session)
        finally:
            call.cancel()
            if session is not None:
                self._end_session(session)

    async def _serve(self, session: Session) -> None:
        # A stop that began while this stream connected must reach the sender.
        session.wake.set()
        sender = asyncio.create_task(self._send_loop(session))
        heartbeat = asyncio.create_task(self._heartbeat_loop(session))
        try:
            await self._read_loop(session)
        finally:
            sender.cancel()
            heartbeat.cancel()
            await asyncio.gather(sender, heartbeat, return_exceptions=True)

    async def _read_loop(self, session: Session) -> None:
        while True:
            try:
                response = await session.call.read()
            except asyncio.CancelledError:
                # grpc.aio raises CancelledError when the call itself was
                # canceled, as stop() does after the close timeout.
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise
                return

            if response is grpc.aio.EOF:
                if not self._closing.is_set():
                    logger.info(
                        "Server ended the worker stream",
                        extra={"worker_id": session.worker_id},
                    )
                return
            self._handle_response(session, response)

    async def _send_loop(self, session: Session) -> None:
        request: worker_service_pb2.WorkRequest | None = None
        try:
            while True:
                await session.wake.wait()
                session.wake.clear()

                request = session.next_request()
                if request is not None:
                    await session.call.write(request)
                    request = None

                if self._closing.is_set() and not session.results:
                    await session.call.done_writing()
                    return
        except (grpc.RpcError, asyncio.InvalidStateError):
            # The read loop receives the call's status and logs it.
            if request is not None and request.results:
                logger.warning(
                    "Results lost with the worker stream",
                    extra={"work_ids": [r.work_id for r in request.results]},
                )

    async def _heartbeat_loop(self, session: Session) -> None:
        while True:
            await asyncio.sleep(session.heartbeat_seconds)
            session.heartbeat_due = True
            session.wake.set()

    def _end_session(self, session: Session) -> None:
        session.closed = True
        if self._session is session:
            self._session = None

        orphans = list(session.running.values())
        for attempt in orphans:
            attempt.context._request_cancel()
        if orphans:
            logger.warning(
                "Worker stream closed with attempts running; their results will "
                "be dropped",
                extra={
                    "worker_id": session.worker_id,
                    "work_ids": sorted(a.context.work_id for a in orphans),
                },
            )
        self._notify()

    # Messages from the server.

    def _handle_response(
        self, session: Session, response: worker_service_pb2.WorkResponse
    ) -> None:
        for assignment in response.assignments:
            self._start_attempt(session, assignment)
        for cancel in response.cancels:
            self._cancel_attempt(session, cancel)
        for ack in response.acks:
            session.unacked.discard((ack.work_id, ack.attempt))
            if not ack.accepted:
                logger.info(
                    "Server ignored a stale result",
                    extra={"work_id": ack.work_id, "attempt": ack.attempt},
                )
        if response.acks:
            self._notify()

    def _start_attempt(
        self, session: Session, assignment: worker_service_pb2.Assignment
    ) -> None:
        context = WorkContext(
            work_id=assignment.work_id,
            attempt=assignment.attempt,
            pool=assignment.pool,
            function=assignment.function,
            lease_expires_at=optional_timestamp(assignment, "lease_expires_at"),
            deadline=optional_timestamp(assignment, "deadline"),
        )
        attempt = Attempt(
            session, context, trace_context=dict(assignment.trace_context)
        )
        if attempt.key in session.running:
            logger.error("Duplicate assignment ignored", extra=attempt.log_extra())
            return

        # An assignment that arrives while the worker stops still runs: the
        # protocol has no way to hand it back without ending the attempt.
        session.running[attempt.key] = attempt
        self._attempts.add(attempt)
        raw_args = assignment.args if assignment.HasField("args") else None
        attempt.task = asyncio.create_task(self._execute(attempt, raw_args))
        logger.debug("Attempt assigned", extra=attempt.log_extra())

    def _cancel_attempt(
        self, session: Session, cancel: worker_service_pb2.CancelAttempt
    ) -> None:
        attempt = session.running.get((cancel.work_id, cancel.attempt))
        if attempt is None:
            logger.debug(
                "Cancel request for an attempt that is not running",
                extra={"work_id": cancel.work_id, "attempt": cancel.attempt},
            )
            return

        if cancel.reason == worker_service_pb2.CANCEL_REASON_LEASE_LOST:
            attempt.lease_lost = True
            logger.warning(
                "Lease lost; the attempt's result will be dropped",
                extra=attempt.log_extra(),
            )
        elif cancel.reason == worker_service_pb2.CANCEL_REASON_TIMEOUT:
            # The server already ended the attempt as a timeout failure, so a
            # later result would be stale: drop it as after a lost lease.
            attempt.lease_lost = True
            logger.warning(
                "Attempt timed out; the attempt's result will be dropped",
                extra=attempt.log_extra(),
            )
        else:
            logger.info("Cancel requested", extra=attempt.log_extra())
        attempt.context._request_cancel()

    # Attempts.

    async def _execute(self, attempt: Attempt, raw_args: Any) -> None:
        assert self._executor is not None
        result: worker_service_pb2.AttemptResult | None = None
        try:
            async with self._slots:
                # An attempt that waited for a slot may have lost its stream.
                if not attempt.session.closed and not attempt.lease_lost:
                    result = await self._run_traced(attempt, raw_args)
        except Exception as error:
            # A bug here must fail this attempt alone: without a result the
            # slot and the credit would never come back.
            logger.exception(
                "Attempt failed inside the worker",
                extra={"work_id": attempt.context.work_id},
            )
            result = failure_result(attempt.context, error)
        finally:
            self._attempts.discard(attempt)
            attempt.session.running.pop(attempt.key, None)

        self._finish(attempt, result)

    async def _run_traced(
        self, attempt: Attempt, raw_args: Any
    ) -> worker_service_pb2.AttemptResult:
        assert self._executor is not None
        handler = self._handlers.get(attempt.context.function)
        attributes = {
            "messaging.system": "workpool",
            "messaging.operation.type": "process",
            "messaging.destination.name": attempt.context.pool,
            "messaging.message.id": attempt.context.work_id,
            "workpool.function": attempt.context.function,
            "workpool.attempt": attempt.context.attempt,
        }
        with run_span(self._tracer_provider, attempt.trace_context, attributes) as span:
            result = await run_handler(
                handler, attempt.context, raw_args, self._executor
            )
            if span is not None and result.WhichOneof("outcome") == "failure":
                mark_failed(span, result.failure.error)
        return result

    def _finish(
        self, attempt: Attempt, result: worker_service_pb2.AttemptResult | None
    ) -> None:
        session = attempt.session
        if session.closed:
            if result is not None:
                logger.warning(
                    "Result dropped because its worker stream closed",
                    extra=attempt.log_extra(),
                )
        elif attempt.lease_lost:
            logger.info(
                "Result dropped because the lease was lost", extra=attempt.log_extra()
            )
            self._grant_credit(session)
        elif result is not None:
            session.results.append(result)
            session.unacked.add(attempt.key)
            self._grant_credit(session)

        session.wake.set()
        self._notify()

    def _grant_credit(self, session: Session) -> None:
        # A stopping worker grants no credit, so the server assigns it nothing
        # beyond the credit it already holds.
        if not self._stopping.is_set():
            session.credit += 1

    async def _abandon_attempts(self) -> None:
        tasks = [a.task for a in self._attempts if a.task is not None]
        if not tasks:
            return

        logger.warning(
            "Worker closing with attempts running; canceling their handlers",
            extra={"work_ids": sorted(a.context.work_id for a in self._attempts)},
        )
        for attempt in self._attempts:
            attempt.context._request_cancel()
        # A sync handler keeps its thread until it returns; canceling the task
        # only stops waiting for it.
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # Stop bookkeeping.

    def _notify(self) -> None:
        self._state_changed.set()

    def _is_drained(self) -> bool:
        if self._force_stop.is_set():
            return True
        session = self._session
        return session is None or session.closed or session.is_idle()

    async def _wait_drained(self) -> None:
        while not self._is_drained():
            self._state_changed.clear()
            await self._state_changed.wait()


def _seconds(delay: timedelta, name: str) -> float:
    if not isinstance(delay, timedelta):
        raise TypeError(
            f"{name} must be a timedelta, got {delay!r}; for seconds write "
            "timedelta(seconds=...)"
        )
    if delay < timedelta(0):
        raise ValueError(f"{name} is {delay}; use zero or more")
    return delay.total_seconds()


def _check_pools(pools: Sequence[str]) -> list[str]:
    if isinstance(pools, str):
        raise TypeError(f"pools must be a list of pool names, not the str {pools!r}")

    checked = list(pools)
    if not checked:
        raise ValueError("pools is empty; list at least one pool to take work from")
    for index, pool in enumerate(checked):
        if not isinstance(pool, str) or not pool:
            raise ValueError(f"pools[{index}] must be a non-empty str, got {pool!r}")
    return checked


def _check_capacity(capacity: int) -> int:
    if isinstance(capacity, bool) or not isinstance(capacity, int):
        raise TypeError(f"capacity must be an int, got {capacity!r}")
    if not 1 <= capacity <= MAX_CAPACITY:
        raise ValueError(
            f"capacity is {capacity}; use 1 to {MAX_CAPACITY} handlers at once"
        )
    return capacity
