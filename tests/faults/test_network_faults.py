"""Network faults between the server and its clients, injected by a TCP proxy.

The proxy (tests/faults/proxy.py) stalls, drops or resets connections. The
Python SDK's watch and worker must reconnect through it and resume with
nothing missed, and the server must notice a stalled peer through its
keepalive pings and free what that peer held.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

import grpc
import pytest

import workpool
from tests.conftest import (
    ScriptedWorker,
    eventually,
    logged_completions,
    succeed_at_once,
)
from tests.faults.proxy import FaultProxy
from workpool.v1 import (
    worker_service_pb2_grpc,
    workpool_service_pb2,
    workpool_service_pb2_grpc,
)

pytestmark = pytest.mark.faults

# The server pings every second and gives up after one more, so a stalled
# peer is noticed within about 2 s. The clients ping as often, to notice a
# stalled proxy from their side.
KEEPALIVE = {"keepalive_time_us": 1_000_000, "keepalive_timeout_us": 1_000_000}
CLIENT_KEEPALIVE = [
    ("grpc.keepalive_time_ms", 1_000),
    ("grpc.keepalive_timeout_ms", 1_000),
]
BATCH = 20
FAST_RETRY = workpool.RetryPolicy(
    max_attempts=20, initial_backoff=timedelta(milliseconds=20)
)


@pytest.fixture
async def proxied(make_server) -> AsyncIterator[tuple[object, FaultProxy]]:
    server = await make_server(**KEEPALIVE)
    proxy = await FaultProxy(server.port).start()
    try:
        yield server, proxy
    finally:
        await proxy.close()


async def _stall_until_noticed(proxy: FaultProxy) -> None:
    """Stall until a client's keepalive gives up and it dials again, then
    resume forwarding."""
    before = proxy.accepted
    proxy.stall()
    await eventually(
        lambda: proxy.accepted > before, timeout=30, message="a new connection"
    )
    proxy.resume()


async def _wait_received(received: list[int], count: int) -> None:
    await eventually(
        lambda: len(received) >= count, timeout=30, message=f"{count} completions"
    )


def _faults(proxy: FaultProxy) -> dict[str, Callable[[], Awaitable[None]]]:
    return {
        "drop": proxy.drop,
        "reset": proxy.reset,
        "stall": lambda: _stall_until_noticed(proxy),
    }


async def test_watch_resumes_after_drop_reset_stall(proxied, figures, database_engine):
    server, proxy = proxied
    direct = f"127.0.0.1:{server.port}"
    async with (
        workpool.AsyncClient(direct) as client,
        workpool.AsyncClient(proxy.target, options=CLIENT_KEEPALIVE) as watcher,
    ):
        await client.create_pool("net", max_parallelism=50)
        channel = grpc.aio.insecure_channel(direct)
        worker = await ScriptedWorker(
            worker_service_pb2_grpc.WorkerServiceStub(channel),
            ["net"],
            ["job"],
            capacity=8,
            respond=succeed_at_once,
        ).start()

        received: list[int] = []

        async def watch() -> None:
            async for completion in watcher.watch_completions(after_sequence=0):
                received.append(completion.sequence)

        watching = asyncio.create_task(watch())
        try:
            total = 0
            for fault in _faults(proxy).values():
                await client.enqueue_batch(
                    "net", [workpool.WorkItem("job") for _ in range(BATCH)]
                )
                total += BATCH
                await _wait_received(received, total)

                # Completions that happen while the path is broken are
                # replayed after the reconnect.
                broken = asyncio.create_task(fault())
                await client.enqueue_batch(
                    "net", [workpool.WorkItem("job") for _ in range(BATCH)]
                )
                total += BATCH
                await broken
                await _wait_received(received, total)
        finally:
            watching.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watching
            await worker.close()
            await channel.close()

    assert received == list(range(1, total + 1))
    assert proxy.accepted >= 4
    figures(
        {
            "faults_injected": 3,
            "completions": total,
            "missed": total - len(set(received)),
            "repeated": len(received) - len(set(received)),
            "connections": proxy.accepted,
        },
        name=f"network_watch_{database_engine}",
    )


async def test_worker_reconnects_after_drop_reset_stall(
    proxied, figures, database_engine
):
    server, proxy = proxied
    direct = f"127.0.0.1:{server.port}"
    worker = workpool.Worker(
        proxy.target,
        pools=["net"],
        capacity=4,
        options=CLIENT_KEEPALIVE,
        max_reconnect_delay=timedelta(milliseconds=500),
    )

    @worker.handler("job")
    async def job(context, args):
        await asyncio.sleep(0.02)
        return args["index"]

    async with workpool.AsyncClient(direct) as client:
        await client.create_pool(
            "net", max_parallelism=8, retry_by_default=True, default_retry=FAST_RETRY
        )
        running = asyncio.create_task(worker.run_async())
        work_ids: list[str] = []
        try:
            for round_number, fault in enumerate(_faults(proxy).values()):
                specs = [
                    workpool.WorkItem("job", {"index": round_number * BATCH + index})
                    for index in range(BATCH)
                ]
                work_ids += await client.enqueue_batch("net", specs)
                # Break the path right after the enqueue, while items of this batch run.
                await eventually(
                    lambda: proxy.open_connections > 0, message="worker connected"
                )
                await fault()

            async def all_finished() -> bool:
                statuses = await client.status_batch(work_ids)
                return all(s.state is workpool.WorkState.FINISHED for s in statuses)

            await eventually(all_finished, timeout=60, message="every item finished")
            statuses = await client.status_batch(work_ids)
        finally:
            await worker.stop(timedelta(seconds=1))
            await asyncio.gather(running, return_exceptions=True)

        channel = grpc.aio.insecure_channel(direct)
        entries = await logged_completions(
            workpool_service_pb2_grpc.WorkpoolServiceStub(channel)
        )
        await channel.close()

    for index, status in enumerate(statuses):
        assert status.result is not None
        assert status.result.succeeded
        assert status.result.return_value == index
    logged = [entry.work_id for entry in entries]
    assert sorted(logged) == sorted(work_ids)
    assert proxy.accepted >= 4
    figures(
        {
            "faults_injected": 3,
            "items": len(work_ids),
            "final_results": len(logged),
            "lost": len(set(work_ids) - set(logged)),
            "duplicated": len(logged) - len(set(logged)),
            "retried_items": sum(1 for entry in entries if entry.attempts > 1),
            "connections": proxy.accepted,
        },
        name=f"network_worker_{database_engine}",
    )


async def test_server_frees_items_of_stalled_worker(
    make_server, fake_clock, protocol_workers, figures, database_engine
):
    """The lease is judged by a fake clock that never moves, so only the
    server's keepalive can end the stalled worker's attempt."""
    server = await make_server(clock=fake_clock, **KEEPALIVE)
    proxy = await FaultProxy(server.port).start()
    direct = grpc.aio.insecure_channel(f"127.0.0.1:{server.port}")
    behind_proxy = grpc.aio.insecure_channel(proxy.target)
    try:
        async with workpool.AsyncClient(direct) as client:
            await client.create_pool("net", retry_by_default=True)
            stalled = await protocol_workers(
                ["net"],
                ["job"],
                stub=worker_service_pb2_grpc.WorkerServiceStub(behind_proxy),
                name="stalled",
            )
            watch = workpool_service_pb2_grpc.WorkpoolServiceStub(
                behind_proxy
            ).WatchCompletions(workpool_service_pb2.WatchCompletionsRequest())
            await watch.read()
            work_id = await client.enqueue("net", "job")
            await stalled.wait_started(1)
            assert server.engine.hub.subscribers == 1

            proxy.stall()
            stalled_at = time.monotonic()

            async def freed() -> bool:
                status = await client.status(work_id)
                return status.state is workpool.WorkState.PENDING

            await eventually(freed, timeout=30, message="the attempt ended")
            seconds_to_free = time.monotonic() - stalled_at
            await eventually(
                lambda: server.engine.hub.subscribers == 0,
                timeout=30,
                message="the watch stream ended",
            )
            lost = await client.status(work_id)

            spare = await protocol_workers(["net"], ["job"], name="spare")
            fake_clock.advance(timedelta(seconds=1))
            await spare.wait_started(1)
            await spare.succeed(work_id, "done")
            finished = await client.status(work_id)
    finally:
        watch.cancel()
        await proxy.close()
        await behind_proxy.close()
        await direct.close()

    assert lost.previous_attempts == 1
    assert lost.last_error is not None
    assert lost.last_error.startswith("worker lost")
    assert (spare.started[0].work_id, spare.started[0].attempt) == (work_id, 2)
    assert finished.result is not None
    assert finished.result.return_value == "done"
    figures(
        {
            "keepalive_time_seconds": 1,
            "keepalive_timeout_seconds": 1,
            "seconds_to_free_items": round(seconds_to_free, 2),
        },
        name=f"network_stalled_worker_{database_engine}",
    )
