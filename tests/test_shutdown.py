"""Graceful shutdown of a `workpool serve` subprocess on SIGTERM."""

from __future__ import annotations

import asyncio
import collections
import signal
import time
from datetime import timedelta

import grpc

from tests.conftest import ScriptedWorker, eventually
from workpool import (
    AsyncClient,
    CompletionEvent,
    OnComplete,
    RetryPolicy,
    Worker,
    WorkState,
)
from workpool.v1 import (
    worker_service_pb2,
    worker_service_pb2_grpc,
    workpool_service_pb2,
    workpool_service_pb2_grpc,
)

FAST_RETRY = RetryPolicy(max_attempts=5, initial_backoff=timedelta(milliseconds=100))
POOLS = ["alpha", "beta", "gamma", "delta"]


class HeartbeatingWorker(ScriptedWorker):
    """A scripted worker that renews the leases of its held attempts."""

    def heartbeat(self) -> None:
        self._outgoing.put_nowait(
            worker_service_pb2.WorkRequest(
                heartbeat=worker_service_pb2.Heartbeat(work_ids=sorted(self.running))
            )
        )

    def send_success(self, work_id: str) -> tuple[str, int]:
        """Report success without waiting for the acknowledgement."""
        return self._send_result(work_id, worker_service_pb2.AttemptSuccess())


async def _heartbeat_forever(worker: HeartbeatingWorker) -> None:
    while True:
        worker.heartbeat()
        await asyncio.sleep(0.4)


async def test_sigterm_stops_dispatch_and_keeps_results(spawn_server):
    """Four pools, each with one running item and two more queued; SIGTERM with
    a 2 s grace. Two results are reported after the signal, one near the end
    of the grace period, and one item is never reported."""
    server = await spawn_server("--shutdown-grace", "2s").wait_ready()
    async with AsyncClient(server.target) as client:
        ids: dict[str, list[str]] = {}
        for pool in POOLS:
            await client.create_pool(
                pool, max_parallelism=1, retry_by_default=True, default_retry=FAST_RETRY
            )
            ids[pool] = [
                await client.enqueue(
                    pool, "job", {"n": n}, on_complete=_on_complete(pool, n)
                )
                for n in range(3)
            ]

    channel = grpc.aio.insecure_channel(server.target)
    stub = worker_service_pb2_grpc.WorkerServiceStub(channel)
    watcher = workpool_service_pb2_grpc.WorkpoolServiceStub(channel)
    worker = await HeartbeatingWorker(
        stub, POOLS, ["job", "job.done"], capacity=8
    ).start()
    heartbeats = asyncio.create_task(_heartbeat_forever(worker))
    watches = [
        watcher.WatchCompletions(workpool_service_pb2.WatchCompletionsRequest())
        for _ in range(2)
    ]
    try:
        for watch in watches:
            await watch.read()
        await worker.wait_started(4)
        running = {started.pool: started.work_id for started in worker.started}

        server.process.send_signal(signal.SIGTERM)
        signaled_at = time.monotonic()
        watch_codes = [await _end_code(watch) for watch in watches]

        # Dispatch is off: these free two slots and create two follow-ups.
        await worker.succeed(running["alpha"])
        await worker.succeed(running["beta"])
        await asyncio.sleep(max(0.0, signaled_at + 1.8 - time.monotonic()))
        late = worker.send_success(running["gamma"])

        await asyncio.to_thread(server.process.wait, 10)
        stopped_after = time.monotonic() - signaled_at
        worker_code = await _end_code_of_task(worker)
    finally:
        heartbeats.cancel()
        await worker.close()
        await channel.close()

    assert watch_codes == [grpc.StatusCode.UNAVAILABLE] * 2
    assert worker_code == grpc.StatusCode.UNAVAILABLE
    assert [s.work_id for s in worker.started] == list(running.values())
    assert worker.acks[(running["alpha"], 1)] is True
    assert worker.acks[(running["beta"], 1)] is True
    assert 1.9 <= stopped_after <= 5.0
    assert server.process.returncode == 0
    late_acked = worker.acks.get(late) is True

    follow_ups: collections.Counter[str] = collections.Counter()
    server = spawn_server("--shutdown-grace", "2s", port=server.port)
    await server.wait_ready()
    restarted = Worker(server.target, pools=POOLS, capacity=8)
    restarted.register("job", lambda context, args: args)

    @restarted.on_complete("job.done")
    def job_done(context, event: CompletionEvent):
        follow_ups[event.work_id] += 1

    all_ids = [work_id for pool in POOLS for work_id in ids[pool]]
    task = asyncio.create_task(restarted.run_async())
    try:
        async with AsyncClient(server.target) as client:

            async def settled() -> bool:
                statuses = await client.status_batch(all_ids)
                finished = all(s.state is WorkState.FINISHED for s in statuses)
                return finished and len(follow_ups) == len(all_ids)

            await eventually(settled, timeout=15, message="items and follow-ups")
            # A follow-up that ran twice would show up within this pause.
            await asyncio.sleep(0.3)
            statuses = {
                status.work_id: status for status in await client.status_batch(all_ids)
            }
    finally:
        await restarted.stop(timedelta(seconds=1))
        await asyncio.gather(task, return_exceptions=True)

    assert sorted(follow_ups) == sorted(all_ids)
    assert set(follow_ups.values()) == {1}
    for status in statuses.values():
        assert status.result is not None
        assert status.result.succeeded
    assert statuses[running["alpha"]].previous_attempts == 1
    assert statuses[running["beta"]].previous_attempts == 1
    assert statuses[running["gamma"]].previous_attempts == (1 if late_acked else 2)
    never_reported = statuses[running["delta"]]
    assert never_reported.previous_attempts == 2
    assert "lease" in (never_reported.last_error or "")


def _on_complete(pool: str, n: int) -> OnComplete:
    return OnComplete("job.done", {"pool": pool, "n": n})


async def _end_code(watch) -> grpc.StatusCode:
    """Read a watch stream until it ends; return its status code."""
    try:
        while True:
            message = await asyncio.wait_for(watch.read(), 5)
            if message is grpc.aio.EOF:
                return grpc.StatusCode.OK
    except grpc.aio.AioRpcError as error:
        return error.code()


async def _end_code_of_task(worker: ScriptedWorker) -> grpc.StatusCode:
    """Wait for the scripted worker's reader to end; return the stream's code."""
    reader = worker._reader
    assert reader is not None
    await asyncio.wait([reader], timeout=5)
    error = reader.exception() if reader.done() else None
    if isinstance(error, grpc.aio.AioRpcError):
        return error.code()
    return grpc.StatusCode.OK
