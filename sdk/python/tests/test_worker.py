"""Worker stream behaviour against a scripted in-process WorkerService."""

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import grpc
import pytest
from google.protobuf import duration_pb2

from workpool import InvalidArgumentError, WorkContext, Worker
from workpool._values import from_value, to_value
from workpool.v1 import worker_service_pb2 as pb
from workpool.v1 import worker_service_pb2_grpc


class FakeSession:
    """One Work stream as the fake server saw it."""

    def __init__(self) -> None:
        self.hello: pb.Hello | None = None
        self.requests: list[pb.WorkRequest] = []
        self.outbox: asyncio.Queue[pb.WorkResponse | grpc.StatusCode | None] = (
            asyncio.Queue()
        )
        self.client_done = asyncio.Event()

    def send(self, response: pb.WorkResponse) -> None:
        self.outbox.put_nowait(response)

    def results(self) -> list[pb.AttemptResult]:
        return [result for request in self.requests for result in request.results]

    def credit(self) -> int:
        return sum(request.credit.count for request in self.requests)

    def heartbeat_ids(self) -> set[str]:
        return {i for request in self.requests for i in request.heartbeat.work_ids}


class FakeWorkerService(worker_service_pb2_grpc.WorkerServiceServicer):
    """Welcomes each stream, records requests, acknowledges every result."""

    def __init__(self) -> None:
        self.sessions: list[FakeSession] = []
        self.reject_hello: grpc.StatusCode | None = None

    async def Work(
        self, request_iterator: AsyncIterator[pb.WorkRequest], context: Any
    ) -> AsyncIterator[pb.WorkResponse]:
        session = FakeSession()
        first = await anext(request_iterator)
        session.hello = first.hello
        self.sessions.append(session)
        if self.reject_hello is not None:
            await context.abort(self.reject_hello, "rejected hello")

        yield pb.WorkResponse(
            welcome=pb.Welcome(
                worker_id=f"ws_{len(self.sessions)}",
                lease_duration=duration_pb2.Duration(seconds=30),
                heartbeat_interval=duration_pb2.Duration(nanos=50_000_000),
            )
        )

        reader = asyncio.create_task(self._read(session, request_iterator))
        try:
            while True:
                item = await session.outbox.get()
                if item is None:
                    return
                if isinstance(item, grpc.StatusCode):
                    await context.abort(item, "scripted failure")
                yield item
        finally:
            reader.cancel()

    async def _read(
        self, session: FakeSession, request_iterator: AsyncIterator[pb.WorkRequest]
    ) -> None:
        async for request in request_iterator:
            session.requests.append(request)
            if request.results:
                acks = [
                    pb.ResultAck(work_id=r.work_id, attempt=r.attempt, accepted=True)
                    for r in request.results
                ]
                session.send(pb.WorkResponse(acks=acks))
        session.client_done.set()
        session.outbox.put_nowait(None)


@pytest.fixture
async def fake_server() -> AsyncIterator[tuple[FakeWorkerService, str]]:
    service = FakeWorkerService()
    server = grpc.aio.server()
    worker_service_pb2_grpc.add_WorkerServiceServicer_to_server(service, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield service, f"127.0.0.1:{port}"
    await server.stop(grace=None)


async def eventually(predicate: Callable[[], bool]) -> None:
    """Wait up to 5 s for ``predicate`` to hold."""
    # Polling, because the conditions span state of several tasks that no
    # single event marks.
    async with asyncio.timeout(5):
        while not predicate():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


def assignment(work_id: str, args: Any = None, function: str = "echo") -> pb.Assignment:
    return pb.Assignment(
        work_id=work_id, attempt=1, function=function, args=to_value(args), pool="p"
    )


async def start(worker: Worker) -> asyncio.Task[None]:
    return asyncio.create_task(worker.run_async())


async def test_worker_hello_lists_functions(
    fake_server: tuple[FakeWorkerService, str],
) -> None:
    service, target = fake_server
    worker = Worker(target, pools=["p", "q"], capacity=3, name="test-worker")
    worker.register("echo", lambda ctx, args: args)
    worker.on_complete("echo.done")(lambda ctx, event: None)

    task = await start(worker)
    await eventually(lambda: len(service.sessions) == 1)
    await worker.stop(timedelta(seconds=1))
    await task

    hello = service.sessions[0].hello
    assert hello is not None
    assert list(hello.pools) == ["p", "q"]
    assert list(hello.functions) == ["echo", "echo.done"]
    assert hello.capacity == 3
    assert hello.worker_name == "test-worker"


async def test_worker_sends_credit_with_results(
    fake_server: tuple[FakeWorkerService, str],
) -> None:
    service, target = fake_server
    worker = Worker(target, pools=["p"], capacity=2)

    @worker.handler("echo")
    async def echo(ctx: WorkContext, args: Any) -> Any:
        return args

    task = await start(worker)
    await eventually(lambda: len(service.sessions) == 1)
    session = service.sessions[0]
    session.send(
        pb.WorkResponse(assignments=[assignment("wk_a", 1), assignment("wk_b", 2)])
    )
    await eventually(lambda: len(session.results()) == 2)
    await worker.stop(timedelta(seconds=1))
    await task

    values = {r.work_id: from_value(r.success.return_value) for r in session.results()}
    assert values == {"wk_a": 1, "wk_b": 2}
    for request in session.requests:
        if request.results:
            assert request.credit.count == len(request.results)
    assert session.credit() == 2


async def test_worker_heartbeats_running_ids(
    fake_server: tuple[FakeWorkerService, str],
) -> None:
    service, target = fake_server
    worker = Worker(target, pools=["p"], capacity=2)
    release = asyncio.Event()

    @worker.handler("echo")
    async def wait(ctx: WorkContext, args: Any) -> None:
        await release.wait()

    task = await start(worker)
    await eventually(lambda: len(service.sessions) == 1)
    session = service.sessions[0]
    session.send(pb.WorkResponse(assignments=[assignment("wk_a")]))
    await eventually(lambda: "wk_a" in session.heartbeat_ids())
    release.set()
    await worker.stop(timedelta(seconds=1))
    await task

    assert len(session.results()) == 1


async def test_worker_cancel_request_signals_handler(
    fake_server: tuple[FakeWorkerService, str],
) -> None:
    service, target = fake_server
    worker = Worker(target, pools=["p"], capacity=1)

    @worker.handler("echo")
    async def wait_for_cancel(ctx: WorkContext, args: Any) -> str:
        await ctx.cancel_requested.wait()
        return "stopped early"

    task = await start(worker)
    await eventually(lambda: len(service.sessions) == 1)
    session = service.sessions[0]
    session.send(pb.WorkResponse(assignments=[assignment("wk_a")]))
    await eventually(lambda: "wk_a" in session.heartbeat_ids())
    session.send(
        pb.WorkResponse(
            cancels=[
                pb.CancelAttempt(
                    work_id="wk_a", attempt=1, reason=pb.CANCEL_REASON_REQUESTED
                )
            ]
        )
    )
    await eventually(lambda: len(session.results()) == 1)
    await worker.stop(timedelta(seconds=1))
    await task

    assert from_value(session.results()[0].success.return_value) == "stopped early"


async def test_worker_drops_result_after_lease_lost(
    fake_server: tuple[FakeWorkerService, str],
) -> None:
    service, target = fake_server
    worker = Worker(target, pools=["p"], capacity=1)

    @worker.handler("echo")
    async def wait_for_cancel(ctx: WorkContext, args: Any) -> str:
        await ctx.cancel_requested.wait()
        return "too late"

    task = await start(worker)
    await eventually(lambda: len(service.sessions) == 1)
    session = service.sessions[0]
    session.send(pb.WorkResponse(assignments=[assignment("wk_a")]))
    await eventually(lambda: "wk_a" in session.heartbeat_ids())
    session.send(
        pb.WorkResponse(
            cancels=[
                pb.CancelAttempt(
                    work_id="wk_a", attempt=1, reason=pb.CANCEL_REASON_LEASE_LOST
                )
            ]
        )
    )
    await eventually(lambda: session.credit() == 1)
    await worker.stop(timedelta(seconds=1))
    await task

    assert session.results() == []


async def test_worker_reconnects_and_drops_old_results(
    fake_server: tuple[FakeWorkerService, str],
) -> None:
    service, target = fake_server
    worker = Worker(target, pools=["p"], capacity=1)
    contexts: list[WorkContext] = []
    release = asyncio.Event()

    @worker.handler("echo")
    async def wait(ctx: WorkContext, args: Any) -> str:
        contexts.append(ctx)
        await release.wait()
        return "done"

    task = await start(worker)
    await eventually(lambda: len(service.sessions) == 1)
    first = service.sessions[0]
    first.send(pb.WorkResponse(assignments=[assignment("wk_a")]))
    await eventually(lambda: len(contexts) == 1)
    first.outbox.put_nowait(grpc.StatusCode.UNAVAILABLE)
    await eventually(lambda: len(service.sessions) == 2)
    second = service.sessions[1]
    release.set()
    await eventually(lambda: contexts[0].cancel_requested.is_set())
    await eventually(lambda: not worker._attempts)
    await worker.stop(timedelta(seconds=1))
    await task

    assert second.results() == []
    assert first.results() == []


async def test_worker_stop_lets_handler_report(
    fake_server: tuple[FakeWorkerService, str],
) -> None:
    service, target = fake_server
    worker = Worker(target, pools=["p"], capacity=1)
    started = asyncio.Event()

    @worker.handler("echo")
    async def slow(ctx: WorkContext, args: Any) -> str:
        started.set()
        await asyncio.sleep(0.2)
        return "finished"

    task = await start(worker)
    await eventually(lambda: len(service.sessions) == 1)
    session = service.sessions[0]
    session.send(pb.WorkResponse(assignments=[assignment("wk_a")]))
    await started.wait()
    await worker.stop(timedelta(seconds=5))
    await task

    assert [r.work_id for r in session.results()] == ["wk_a"]
    assert session.credit() == 0
    assert session.client_done.is_set()


async def test_worker_invalid_hello_raises(
    fake_server: tuple[FakeWorkerService, str],
) -> None:
    service, target = fake_server
    service.reject_hello = grpc.StatusCode.INVALID_ARGUMENT
    worker = Worker(target, pools=["p"], capacity=1)
    worker.register("echo", lambda ctx, args: args)

    with pytest.raises(InvalidArgumentError, match="rejected hello"):
        await asyncio.wait_for(worker.run_async(), 5)


async def test_worker_without_handlers_raises() -> None:
    worker = Worker("127.0.0.1:1", pools=["p"])

    with pytest.raises(RuntimeError, match="no handler is registered"):
        await worker.run_async()


def test_worker_rejects_bad_settings() -> None:
    with pytest.raises(ValueError, match="capacity is 0"):
        Worker("127.0.0.1:1", pools=["p"], capacity=0)
    with pytest.raises(ValueError, match="pools is empty"):
        Worker("127.0.0.1:1", pools=[])
    with pytest.raises(TypeError, match="not the str 'p'"):
        Worker("127.0.0.1:1", pools="p")


def test_worker_rejects_duplicate_handler() -> None:
    worker = Worker("127.0.0.1:1", pools=["p"])
    worker.register("echo", lambda ctx, args: args)

    with pytest.raises(ValueError, match="'echo' is already registered"):
        worker.register("echo", lambda ctx, args: args)
