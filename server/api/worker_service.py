"""WorkerService: the bidirectional stream that feeds workers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import grpc

from workpool.v1 import worker_service_pb2, worker_service_pb2_grpc
from workpool_server.api import convert
from workpool_server.api.admission import StreamSlots
from workpool_server.api.decoding import check_decoded
from workpool_server.api.errors import abort
from workpool_server.engine.engine import Engine
from workpool_server.engine.model import AttemptReport, CancelCause
from workpool_server.engine.sessions import Outgoing, WorkerSession
from workpool_server.errors import (
    UnavailableError,
    WorkpoolError,
    invalid,
)

logger = logging.getLogger(__name__)

MAX_HELLO_ENTRIES = 1_000


def _check_hello(request: worker_service_pb2.WorkRequest) -> worker_service_pb2.Hello:
    if not request.HasField("hello"):
        raise invalid("hello", "is required on the first message of WorkerService.Work")
    hello = request.hello
    if not hello.pools:
        raise invalid("hello.pools", "is empty: name at least one pool")
    if not hello.functions:
        raise invalid("hello.functions", "is empty: name at least one function")
    if len(hello.pools) > MAX_HELLO_ENTRIES or len(hello.functions) > MAX_HELLO_ENTRIES:
        raise invalid(
            "hello", f"names more than {MAX_HELLO_ENTRIES} pools or functions"
        )
    for index, pool in enumerate(hello.pools):
        convert.check_pool_name(pool, f"hello.pools[{index}]")
    for index, function in enumerate(hello.functions):
        convert.check_function_name(function, f"hello.functions[{index}]")
    if not 1 <= hello.capacity <= convert.MAX_WORKER_CAPACITY:
        raise invalid(
            "hello.capacity",
            f"must be between 1 and {convert.MAX_WORKER_CAPACITY}, "
            f"got {hello.capacity}",
        )
    if len(hello.worker_name) > convert.MAX_WORKER_NAME:
        raise invalid(
            "hello.worker_name",
            f"must be at most {convert.MAX_WORKER_NAME} characters",
        )
    if not hello.worker_name.isprintable():
        raise invalid(
            "hello.worker_name",
            "contains a control character: use printable characters only",
        )
    return hello


# Assignments per WorkResponse are capped by the size of their args, so a
# message stays under gRPC's default 4 MiB receive limit of workers that keep
# it. One assignment with the largest args still goes out alone.
RESPONSE_ARGS_BYTES = 2 * 1024 * 1024


def _split_by_size(outgoing: Outgoing) -> list[Outgoing]:
    parts = [Outgoing(cancels=outgoing.cancels, acks=outgoing.acks)]
    size = 0
    for assignment in outgoing.assignments:
        if parts[-1].assignments and size + len(assignment.args) > RESPONSE_ARGS_BYTES:
            parts.append(Outgoing())
            size = 0
        parts[-1].assignments.append(assignment)
        size += len(assignment.args)
    return parts


def _response(outgoing: Outgoing) -> worker_service_pb2.WorkResponse:
    reasons = {
        CancelCause.REQUESTED: worker_service_pb2.CANCEL_REASON_REQUESTED,
        CancelCause.LEASE_LOST: worker_service_pb2.CANCEL_REASON_LEASE_LOST,
        CancelCause.TIMEOUT: worker_service_pb2.CANCEL_REASON_TIMEOUT,
    }
    return worker_service_pb2.WorkResponse(
        assignments=[convert.assignment_message(a) for a in outgoing.assignments],
        cancels=[
            worker_service_pb2.CancelAttempt(
                work_id=c.work_id, attempt=c.attempt, reason=reasons[c.cause]
            )
            for c in outgoing.cancels
        ],
        acks=[
            worker_service_pb2.ResultAck(
                work_id=a.work_id, attempt=a.attempt, accepted=a.accepted
            )
            for a in outgoing.acks
        ],
    )


# Messages decoded ahead of their transaction. The bound leaves a worker that
# sends faster than the database commits to gRPC's flow control.
READ_AHEAD = 64


@dataclass
class _Inbound:
    """One decoded WorkRequest. `last` marks the stream's final entry: the
    worker closed the stream, or `error` ends it after this entry's results."""

    reports: list[AttemptReport] = field(default_factory=list)
    credit: int = 0
    heartbeats: list[str] = field(default_factory=list)
    last: bool = False
    error: Exception | None = None


class WorkerServicer(worker_service_pb2_grpc.WorkerServiceServicer):
    def __init__(
        self,
        engine: Engine,
        limits: convert.Limits,
        stream_slots: StreamSlots | None = None,
    ) -> None:
        self._engine = engine
        self._limits = limits
        self._stream_slots = stream_slots or StreamSlots("max_worker_streams", 1_000)

    async def Work(  # noqa: N802
        self, request_iterator, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[worker_service_pb2.WorkResponse]:
        # The slot is taken before the hello is read, so that connections
        # which never send one count too.
        try:
            with self._stream_slots.hold():
                async for response in self._serve(request_iterator, context):
                    yield response
        except WorkpoolError as error:
            await abort(context, error)

    async def _serve(
        self, request_iterator, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[worker_service_pb2.WorkResponse]:
        try:
            if self._engine.draining:
                raise UnavailableError("the server is shutting down: reconnect later")
            first = await anext(aiter(request_iterator), None)
            if first is None:
                return
            check_decoded(first)
            hello = _check_hello(first)
        except WorkpoolError as error:
            await abort(context, error)
            return

        engine = self._engine
        session = engine.open_session(
            hello.worker_name or context.peer(),
            list(hello.pools),
            list(hello.functions),
            hello.capacity,
        )
        await self._warn_unknown_pools(session)
        reader = asyncio.create_task(self._read(session, request_iterator, context))
        try:
            yield worker_service_pb2.WorkResponse(
                welcome=worker_service_pb2.Welcome(
                    worker_id=session.owner,
                    lease_duration=convert.to_duration(engine.settings.lease_us),
                    heartbeat_interval=convert.to_duration(
                        engine.settings.heartbeat_interval_us
                    ),
                )
            )
            while True:
                outgoing = await session.next_outgoing()
                if outgoing is None:
                    break
                for part in _split_by_size(outgoing):
                    yield _response(part)
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
            await engine.close_session(session)

        if session.ending:
            await abort(
                context,
                UnavailableError("the server is shutting down: reconnect later"),
            )
        elif session.error is not None:
            await abort(context, session.error)

    async def _warn_unknown_pools(self, session: WorkerSession) -> None:
        """Log pools a worker serves that do not exist, likely misspelled."""
        known = await self._engine.existing_pools(sorted(session.pools))
        unknown = sorted(session.pools - known)
        if unknown:
            logger.warning(
                "worker serves pools that do not exist",
                extra={
                    "event": "worker_unknown_pools",
                    "worker_id": session.owner,
                    "worker_name": session.name,
                    "pools": ",".join(unknown),
                },
            )

    async def _read(
        self,
        session: WorkerSession,
        request_iterator,
        context: grpc.aio.ServicerContext,
    ) -> None:
        # Messages are decoded ahead of their commits, so the results of all
        # messages that arrive during one commit share the next transaction.
        inbox: asyncio.Queue[_Inbound] = asyncio.Queue(READ_AHEAD)
        receiver = asyncio.create_task(self._receive(request_iterator, inbox))
        try:
            await self._apply_inbound(session, inbox)
        except WorkpoolError as error:
            session.error = error
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.warning(
                "worker stream read failed",
                extra={"event": "worker_stream_failed", "worker_id": session.owner},
                exc_info=True,
            )
        finally:
            receiver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await receiver
        session.closed = True
        session.wake()

    async def _receive(self, request_iterator, inbox: asyncio.Queue[_Inbound]) -> None:
        """Decode and check each message; put a last entry at the end."""
        try:
            async for request in request_iterator:
                inbound = self._inbound(request)
                await inbox.put(inbound)
                if inbound.last:
                    return
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001 - raised by the applying task
            await inbox.put(_Inbound(last=True, error=error))
            return
        await inbox.put(_Inbound(last=True))

    def _inbound(self, request: worker_service_pb2.WorkRequest) -> _Inbound:
        check_decoded(request)
        if request.HasField("hello"):
            raise invalid("hello", "must be sent only on the first message")
        inbound = _Inbound(
            reports=[
                convert.attempt_report(result, f"results[{index}]", self._limits)
                for index, result in enumerate(request.results)
            ]
        )
        # A bad credit or heartbeat ends the stream, but the message's valid
        # results still count, as they did when results were applied first.
        try:
            if request.HasField("credit"):
                if request.credit.count < 0:
                    raise invalid("credit.count", "must not be negative")
                inbound.credit = request.credit.count
            work_ids = request.heartbeat.work_ids
            if len(work_ids) > convert.MAX_WORKER_CAPACITY:
                raise invalid(
                    "heartbeat.work_ids",
                    f"names {len(work_ids)} items, more than a worker's maximum "
                    f"capacity of {convert.MAX_WORKER_CAPACITY}",
                )
            for index, work_id in enumerate(work_ids):
                convert.check_work_id(work_id, f"heartbeat.work_ids[{index}]")
            inbound.heartbeats = list(work_ids)
        except WorkpoolError as error:
            inbound.last = True
            inbound.error = error
        return inbound

    async def _apply_inbound(
        self, session: WorkerSession, inbox: asyncio.Queue[_Inbound]
    ) -> None:
        engine = self._engine
        while True:
            batch = [await inbox.get()]
            while not batch[-1].last and not inbox.empty():
                batch.append(inbox.get_nowait())

            # Heartbeats go first, because a renewal after the batch's results
            # would find those items finished and send a lease-lost cancel.
            heartbeats = list(
                dict.fromkeys(work_id for item in batch for work_id in item.heartbeats)
            )
            if heartbeats:
                await engine.heartbeat(session, heartbeats)
            reports = [report for item in batch for report in item.reports]
            if reports:
                await engine.report(session, reports)
            # A credit is a slot the worker freed, so it applies only after
            # the results that came before it.
            credit = sum(item.credit for item in batch)
            if credit:
                engine.add_credit(session, credit)

            if batch[-1].error is not None:
                raise batch[-1].error
            if batch[-1].last:
                return
