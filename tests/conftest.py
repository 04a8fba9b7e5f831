"""Fixtures: a real server on loopback, in this process, on a fresh SQLite file."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
import pytest
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


@pytest.fixture
async def make_server(tmp_path) -> AsyncIterator[ServerFactory]:
    """Start servers on fresh SQLite files; stop them at the end of the test."""
    started: list[RunningServer] = []

    async def factory(
        clock: Clock | None = None, database: str = "workpool.db", **overrides: Any
    ) -> RunningServer:
        config = ServerConfig(
            database_url=f"sqlite:///{tmp_path / database}",
            listen="127.0.0.1:0",
            http_listen="",
            sqlite_synchronous="NORMAL",
            shutdown_grace_us=0,
            **overrides,
        ).validate()
        server = await start_server(config, clock=clock)
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
    timeout: float = 10.0,
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
