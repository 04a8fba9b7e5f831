"""Fixtures: a real server on loopback, in this process, on a fresh SQLite file."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import grpc
import pytest

from tests.postgres import PostgresCluster
from workpool.v1 import (
    pool_service_pb2_grpc,
    worker_service_pb2_grpc,
    workpool_service_pb2_grpc,
)
from workpool_server.app import RunningServer, start_server
from workpool_server.clock import Clock, FakeClock
from workpool_server.config import ServerConfig


@dataclasses.dataclass
class Stubs:
    channel: grpc.aio.Channel
    workpool: workpool_service_pb2_grpc.WorkpoolServiceStub
    worker: worker_service_pb2_grpc.WorkerServiceStub
    pools: pool_service_pb2_grpc.PoolServiceStub


ServerFactory = Callable[..., Awaitable[RunningServer]]


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """One PostgreSQL cluster for the whole session, started on first use."""
    cluster = PostgresCluster()
    started = False

    def start() -> PostgresCluster:
        nonlocal started
        if not started:
            cluster.start()
            started = True
        return cluster

    cluster.ensure_started = start  # type: ignore[attr-defined]
    yield cluster
    if started:
        cluster.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_engine(request) -> str:
    """The storage engine a test runs on; every server test runs on both."""
    if request.param == "postgresql" and not PostgresCluster.available():
        pytest.skip("PostgreSQL is not installed: initdb not found")
    return request.param


@pytest.fixture
async def make_server(
    tmp_path, database_engine, postgres_cluster
) -> AsyncIterator[ServerFactory]:
    """Start servers on a fresh database; stop them at the end of the test.

    Servers made with the same `database` name share one database, so a
    test can restart a server on the data of a stopped one.
    """
    started: list[RunningServer] = []
    databases: dict[str, str] = {}

    def database_url(name: str) -> str:
        if database_engine == "sqlite":
            return f"sqlite:///{tmp_path / name}"
        if name not in databases:
            databases[name] = postgres_cluster.ensure_started().create_database()
        return databases[name]

    async def factory(
        clock: Clock | None = None,
        database: str = "workpool.db",
        tracer_provider: Any = None,
        **overrides: Any,
    ) -> RunningServer:
        settings: dict[str, Any] = {
            "database_url": database_url(database),
            "listen": "127.0.0.1:0",
            "http_listen": "",
            "sqlite_synchronous": "NORMAL",
            "shutdown_grace_us": 0,
        }
        settings.update(overrides)
        config = ServerConfig(**settings).validate()
        server = await start_server(
            config, clock=clock, tracer_provider=tracer_provider
        )
        started.append(server)
        return server

    yield factory
    for server in reversed(started):
        await server.stop(grace_seconds=0)


@pytest.fixture
def fake_clock() -> FakeClock:
    # A constant 0.5 makes the jitter factor exactly 1.
    return FakeClock(random_source=lambda: 0.5)


@pytest.fixture
async def server(make_server, fake_clock) -> RunningServer:
    return await make_server(clock=fake_clock)


@pytest.fixture
def target(server: RunningServer) -> str:
    return f"127.0.0.1:{server.port}"


@pytest.fixture
async def stubs(target: str) -> AsyncIterator[Stubs]:
    channel = grpc.aio.insecure_channel(target)
    yield Stubs(
        channel,
        workpool_service_pb2_grpc.WorkpoolServiceStub(channel),
        worker_service_pb2_grpc.WorkerServiceStub(channel),
        pool_service_pb2_grpc.PoolServiceStub(channel),
    )
    await channel.close()


async def eventually(
    check: Callable[[], Awaitable[bool] | bool],
    timeout: float = 10.0,  # noqa: ASYNC109 - polling, not a blocking call
    message: str = "condition",
) -> None:
    """Poll `check` until it is true; fail after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result) or isinstance(result, Awaitable):
            result = await result
        if result:
            return
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {message}")
        await asyncio.sleep(0.01)


# Scheduling and retry helpers: an SDK client fixture and a scripted worker
# that speaks the raw stream protocol, so a test decides when each attempt ends.

import contextlib  # noqa: E402

from google.protobuf import timestamp_pb2  # noqa: E402

from workpool import AsyncClient, from_value, to_value  # noqa: E402
from workpool.v1 import worker_service_pb2  # noqa: E402
from workpool_server.clock import MICROS_PER_SECOND  # noqa: E402


@pytest.fixture
async def workpool_client(target: str) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(target) as client:
        yield client


def timestamp_micros(timestamp: timestamp_pb2.Timestamp) -> int:
    return timestamp.seconds * MICROS_PER_SECOND + timestamp.nanos // 1_000


@dataclasses.dataclass(frozen=True)
class Started:
    """One assignment as a scripted worker received it."""

    work_id: str
    attempt: int
    function: str
    pool: str
    args: Any
    # Server time of the assignment: the lease end minus the lease length.
    assigned_us: int
    # Ids of the attempts the worker held when this one arrived, this one
    # included, in arrival order.
    held_ids: tuple[str, ...] = ()


# What a scripted worker reports at once for an attempt, or None to hold it.
Responder = Callable[
    [Started],
    worker_service_pb2.AttemptSuccess | worker_service_pb2.AttemptFailure | None,
]


class ScriptedWorker:
    """A worker over raw stubs whose attempts end only when the test reports them.

    Every assignment is appended to `started` and stays in `running` until the
    test calls `succeed` or `fail`, unless `respond` returns a result for it
    on arrival. `peak_running` is the largest number of attempts held at once.
    """

    def __init__(
        self,
        stub: Any,
        pools: list[str],
        functions: list[str],
        capacity: int = 1,
        name: str = "scripted",
        respond: Responder | None = None,
    ) -> None:
        self._stub = stub
        self._hello = worker_service_pb2.Hello(
            pools=pools, functions=functions, capacity=capacity, worker_name=name
        )
        self._respond = respond
        self._outgoing: asyncio.Queue = asyncio.Queue()
        self._call: Any = None
        self._reader: asyncio.Task | None = None
        self.lease_us = 0
        self.started: list[Started] = []
        self.running: dict[str, Started] = {}
        self.peak_running = 0
        self.acks: dict[tuple[str, int], bool] = {}
        self.cancels: list[worker_service_pb2.CancelAttempt] = []

    async def start(self) -> ScriptedWorker:
        """Open the stream, send the hello and wait for the welcome."""

        async def requests():
            yield worker_service_pb2.WorkRequest(hello=self._hello)
            while (message := await self._outgoing.get()) is not None:
                yield message

        self._call = self._stub.Work(requests())
        welcome = (await self._call.read()).welcome
        self.lease_us = (
            welcome.lease_duration.seconds * MICROS_PER_SECOND
            + welcome.lease_duration.nanos // 1_000
        )
        self._reader = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        while (message := await self._call.read()) is not grpc.aio.EOF:
            for assignment in message.assignments:
                self._on_assignment(assignment)
            for ack in message.acks:
                self.acks[(ack.work_id, ack.attempt)] = ack.accepted
            self.cancels.extend(message.cancels)

    def _on_assignment(self, assignment: worker_service_pb2.Assignment) -> None:
        started = Started(
            work_id=assignment.work_id,
            attempt=assignment.attempt,
            function=assignment.function,
            pool=assignment.pool,
            args=from_value(assignment.args),
            assigned_us=timestamp_micros(assignment.lease_expires_at) - self.lease_us,
            held_ids=(*self.running, assignment.work_id),
        )
        self.started.append(started)
        self.running[started.work_id] = started
        self.peak_running = max(self.peak_running, len(self.running))
        if self._respond is not None:
            outcome = self._respond(started)
            if outcome is not None:
                self._send_result(started.work_id, outcome)

    def _send_result(
        self,
        work_id: str,
        outcome: worker_service_pb2.AttemptSuccess | worker_service_pb2.AttemptFailure,
    ) -> tuple[str, int]:
        started = self.running.pop(work_id)
        result = worker_service_pb2.AttemptResult(
            work_id=work_id, attempt=started.attempt
        )
        if isinstance(outcome, worker_service_pb2.AttemptSuccess):
            result.success.CopyFrom(outcome)
        else:
            result.failure.CopyFrom(outcome)
        self._outgoing.put_nowait(
            worker_service_pb2.WorkRequest(
                results=[result], credit=worker_service_pb2.Credit(count=1)
            )
        )
        return work_id, started.attempt

    async def _report(self, work_id: str, outcome: Any) -> None:
        key = self._send_result(work_id, outcome)
        await eventually(lambda: key in self.acks, message=f"ack of {key}")

    async def succeed(self, work_id: str, value: Any = None) -> None:
        """Report success for a held attempt and wait for its acknowledgement."""
        success = worker_service_pb2.AttemptSuccess()
        if value is not None:
            success.return_value.CopyFrom(to_value(value))
        await self._report(work_id, success)

    async def fail(
        self, work_id: str, error: str = "failed", non_retryable: bool = False
    ) -> None:
        """Report failure for a held attempt and wait for its acknowledgement."""
        failure = worker_service_pb2.AttemptFailure(
            error=error, non_retryable=non_retryable
        )
        await self._report(work_id, failure)

    async def wait_started(self, count: int) -> None:
        """Wait until `count` assignments in total have arrived."""
        await eventually(
            lambda: len(self.started) >= count,
            message=f"{count} assignments in total",
        )

    async def close(self) -> None:
        self._outgoing.put_nowait(None)
        if self._call is not None:
            self._call.cancel()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, grpc.RpcError):
                await self._reader


@pytest.fixture
async def scripted_workers(stubs: Stubs) -> AsyncIterator[Callable[..., Any]]:
    """Start scripted workers on the test's channel; close them at the end."""
    workers: list[ScriptedWorker] = []

    async def factory(
        pools: list[str], functions: list[str], **options: Any
    ) -> ScriptedWorker:
        worker = await ScriptedWorker(stubs.worker, pools, functions, **options).start()
        workers.append(worker)
        return worker

    yield factory
    for worker in workers:
        await worker.close()


# Servers in a subprocess: `workpool serve` on a free loopback port, for tests
# that kill, signal or restart the process or read its command line.

import os  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

from workpool._channel import DEFAULT_CHANNEL_OPTIONS  # noqa: E402

WORKPOOL_COMMAND = str(Path(sys.executable).with_name("workpool"))


def free_port() -> int:
    """Return a loopback port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclasses.dataclass
class ServeProcess:
    """A `workpool serve` subprocess; its stdout and stderr go to `log_path`."""

    process: subprocess.Popen
    port: int
    log_path: Path

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    async def wait_ready(self, seconds: float = 15.0) -> ServeProcess:
        """Wait until the gRPC port accepts connections; fail if the process exits.

        gRPC shares connections between channels with the same options, and a
        connection that failed against a killed server stays in reconnect
        backoff, failing calls at once. Probing with the plain options and
        with the SDK's brings both shared connections back to READY.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        for options in ((), DEFAULT_CHANNEL_OPTIONS):
            while True:
                if self.process.poll() is not None:
                    raise AssertionError(
                        f"server exited with {self.process.returncode}:\n{self.log()}"
                    )
                channel = grpc.aio.insecure_channel(self.target, options=options)
                async with channel:
                    try:
                        await asyncio.wait_for(channel.channel_ready(), 0.5)
                        break
                    except TimeoutError:
                        pass
                if loop.time() > deadline:
                    raise AssertionError(f"server not ready:\n{self.log()}")
        return self

    def kill(self) -> None:
        """Kill the process with SIGKILL and reap it."""
        self.process.kill()
        self.process.wait(timeout=10)


@pytest.fixture
def spawn_server(tmp_path) -> Any:
    """Start `workpool serve` subprocesses; kill those still running at the end.

    spawn(*flags, database=..., port=..., env=..., defaults=True) runs the
    server in tmp_path without any inherited WORKPOOL_* variable. With
    defaults, it uses sqlite:///tmp_path/database, listens on `port` (a free
    one unless given) with metrics off, and sets a 2 s lease with 500 ms
    heartbeats. Flags given in `flags` come later and win.
    """
    started: list[ServeProcess] = []

    def spawn(
        *flags: str,
        database: str = "workpool.db",
        port: int | None = None,
        env: dict[str, str] | None = None,
        defaults: bool = True,
    ) -> ServeProcess:
        port = port or free_port()
        command = [WORKPOOL_COMMAND, "serve"]
        if defaults:
            command += [
                "--database-url", f"sqlite:///{tmp_path / database}",
                "--listen", f"127.0.0.1:{port}",
                "--http-listen", "",
                "--lease-duration", "2s",
                "--heartbeat-interval", "500ms",
            ]  # fmt: skip
        command += flags
        environment = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith("WORKPOOL_")
        }
        environment.update(env or {})
        log_path = tmp_path / f"serve-{len(started)}.log"
        with log_path.open("wb") as log_file:
            process = subprocess.Popen(
                command,
                cwd=tmp_path,
                env=environment,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        server = ServeProcess(process, port, log_path)
        started.append(server)
        return server

    yield spawn
    for server in started:
        if server.process.poll() is None:
            server.kill()


# Lease, cancel and completion helpers: a scripted worker that also sends
# heartbeats, reports attempts it does not hold and drops its stream, and a
# reader of the whole completion log.

from workpool.v1 import types_pb2, workpool_service_pb2  # noqa: E402

# A well-formed work id that no server issues in these tests: it encodes a
# time in 2024, and the fake clock starts in 2030.
UNISSUED_WORK_ID = "wk_01JD9V6GQ8M3T6Y4D3W0Y5B7ZC"


class ProtocolWorker(ScriptedWorker):
    """A scripted worker for protocol-level cases: heartbeats, stale reports
    and a stream that ends without a goodbye."""

    def send(self, request: worker_service_pb2.WorkRequest) -> None:
        self._outgoing.put_nowait(request)

    def drop(self) -> None:
        """Cancel the stream as the death of the worker process would."""
        self._call.cancel()

    def cancels_for(
        self, reason: int, work_id: str
    ) -> list[worker_service_pb2.CancelAttempt]:
        return [
            cancel
            for cancel in self.cancels
            if cancel.reason == reason and cancel.work_id == work_id
        ]

    async def heartbeat(self, work_ids: list[str]) -> None:
        """Send a heartbeat and wait until the server has applied it.

        The heartbeat also names UNISSUED_WORK_ID. The server sends a
        lease-lost cancel for that id in the same step that renews the other
        leases, so the arrival of that cancel means the renewal is written.
        """
        lost = worker_service_pb2.CANCEL_REASON_LEASE_LOST
        before = len(self.cancels_for(lost, UNISSUED_WORK_ID))
        heartbeat = worker_service_pb2.Heartbeat(work_ids=[*work_ids, UNISSUED_WORK_ID])
        self.send(worker_service_pb2.WorkRequest(heartbeat=heartbeat))
        await eventually(
            lambda: len(self.cancels_for(lost, UNISSUED_WORK_ID)) > before,
            message="the reply to a heartbeat",
        )

    def send_failure(self, work_id: str, error: str) -> None:
        """Report failure for a held attempt without waiting for the ack."""
        self._send_result(work_id, worker_service_pb2.AttemptFailure(error=error))

    async def report_success(self, work_id: str, attempt: int, value: Any) -> bool:
        """Report success for any attempt, held or not, and return whether the
        server accepted it."""
        result = worker_service_pb2.AttemptResult(work_id=work_id, attempt=attempt)
        result.success.return_value.CopyFrom(to_value(value))
        if work_id in self.running and self.running[work_id].attempt == attempt:
            del self.running[work_id]

        key = (work_id, attempt)
        self.acks.pop(key, None)
        self.send(
            worker_service_pb2.WorkRequest(
                results=[result], credit=worker_service_pb2.Credit(count=1)
            )
        )
        await eventually(lambda: key in self.acks, message=f"ack of {key}")
        return self.acks[key]


def succeed_at_once(started: Started) -> worker_service_pb2.AttemptSuccess:
    """Report success with no return value for every attempt on arrival."""
    return worker_service_pb2.AttemptSuccess()


@pytest.fixture
async def protocol_workers(stubs: Stubs) -> AsyncIterator[Callable[..., Any]]:
    """Start protocol workers on the test's channel, or on `stub` when given,
    and close them at the end."""
    workers: list[ProtocolWorker] = []

    async def factory(
        pools: list[str], functions: list[str], stub: Any = None, **options: Any
    ) -> ProtocolWorker:
        worker = ProtocolWorker(stub or stubs.worker, pools, functions, **options)
        workers.append(worker)
        return await worker.start()

    yield factory
    for worker in workers:
        await worker.close()


async def logged_completions(
    stub: workpool_service_pb2_grpc.WorkpoolServiceStub, after_sequence: int = 0
) -> list[types_pb2.Completion]:
    """Return the completion-log entries after `after_sequence`, up to the head
    of the log when the call starts."""
    call = stub.WatchCompletions(
        workpool_service_pb2.WatchCompletionsRequest(after_sequence=after_sequence)
    )
    try:
        head = (await call.read()).head_sequence
        entries: list[types_pb2.Completion] = []
        while head > (entries[-1].sequence if entries else after_sequence):
            message = await asyncio.wait_for(call.read(), timeout=5)
            entries.extend(message.completions)
        return [entry for entry in entries if entry.sequence <= head]
    finally:
        call.cancel()
