"""The measurements of the benchmark, each against a running server.

Every function runs one measurement and returns one figure. Loops are bounded
by item counts, and the caller bounds each measurement in time.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import grpc

import workpool
from bench.worker import NOOP_FUNCTION
from workpool.v1 import workpool_service_pb2, workpool_service_pb2_grpc

BACKLOG_FUNCTION = "bench.backlog"
MAX_BATCH = 10_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Latency:
    """Start latency percentiles of one measurement, in milliseconds."""

    p50_ms: float
    p99_ms: float


class CompletionStream:
    """A raw WatchCompletions stream on one pool, following the log live.

    The benchmark reads the raw messages rather than the SDK's iterator so
    that it can wait for the first message, whose head_sequence proves the
    subscription exists before any item is enqueued.
    """

    def __init__(self, channel: grpc.aio.Channel, pool: str) -> None:
        stub = workpool_service_pb2_grpc.WorkpoolServiceStub(channel)
        request = workpool_service_pb2.WatchCompletionsRequest(pools=[pool])
        self._call = stub.WatchCompletions(request)
        self._messages: AsyncIterator[workpool_service_pb2.WatchCompletionsResponse]

    async def __aenter__(self) -> CompletionStream:
        self._messages = self._call.__aiter__()
        # The first message carries no completions, only the log head.
        await self._messages.__anext__()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._call.cancel()

    async def completions(self) -> AsyncIterator[workpool_service_pb2.Completion]:
        async for message in self._messages:
            for completion in message.completions:
                yield completion


def _noop_items(count: int) -> list[workpool.WorkItem]:
    return [workpool.WorkItem(function=NOOP_FUNCTION) for _ in range(count)]


async def enqueue_throughput(
    client: workpool.AsyncClient, pool: str, batch_size: int, items: int
) -> float:
    """Enqueue ``items`` no-op items in sequential batches; return items/s."""
    batches = items // batch_size
    batch = _noop_items(batch_size)
    started = time.perf_counter()
    for _ in range(batches):
        await client.enqueue_batch(pool, batch)
    elapsed = time.perf_counter() - started
    return batches * batch_size / elapsed


async def preload(
    client: workpool.AsyncClient, pool: str, items: int
) -> tuple[int, float]:
    """Enqueue ``items`` backlog items that no worker runs; return count, items/s."""
    batch = [workpool.WorkItem(function=BACKLOG_FUNCTION) for _ in range(MAX_BATCH)]
    done = 0
    started = time.perf_counter()
    while done < items:
        size = min(MAX_BATCH, items - done)
        await client.enqueue_batch(pool, batch[:size])
        done += size
    return done, done / (time.perf_counter() - started)


async def end_to_end_throughput(
    client: workpool.AsyncClient, channel: grpc.aio.Channel, pool: str, items: int
) -> float:
    """Return items/s from the first enqueue to the last completion delivered.

    Items go in batches of 1,000 while a subscriber on the pool counts the
    completions; each one is a no-op run by a worker process and recorded.
    """
    async with CompletionStream(channel, pool) as stream:
        started = time.perf_counter()
        for offset in range(0, items, 1_000):
            await client.enqueue_batch(pool, _noop_items(min(1_000, items - offset)))

        seen = 0
        async for _ in stream.completions():
            seen += 1
            if seen == items:
                break
        return items / (time.perf_counter() - started)


async def start_latency(
    client: workpool.AsyncClient, channel: grpc.aio.Channel, pool: str, items: int
) -> Latency:
    """Run ``items`` no-ops one after another; return start latency percentiles.

    Latency is the handler's start time minus the time the server accepted
    the item (its ``enqueued_at``). Both are wall-clock readings on this
    machine. Each item is enqueued after the previous one completed, so the
    pool is idle when it arrives.
    """
    started_us: dict[str, int] = {}
    async with CompletionStream(channel, pool) as stream:
        completions = stream.completions()
        for _ in range(items):
            work_id = await client.enqueue(pool, NOOP_FUNCTION)
            completion = await anext(completions)
            if completion.work_id != work_id:
                raise RuntimeError(
                    f"expected the completion of {work_id}, got {completion.work_id}"
                )
            value = workpool.from_value(completion.result.success.return_value)
            started_us[work_id] = int(value["started_us"])

    latencies_ms: list[float] = []
    ids = list(started_us)
    for offset in range(0, len(ids), MAX_BATCH):
        for status in await client.status_batch(ids[offset : offset + MAX_BATCH]):
            if status.enqueued_at is None:
                raise RuntimeError(f"{status.work_id} has no enqueued_at")
            accepted_us = (status.enqueued_at - _EPOCH) // timedelta(microseconds=1)
            latencies_ms.append((started_us[status.work_id] - accepted_us) / 1_000)

    cuts = statistics.quantiles(latencies_ms, n=100, method="inclusive")
    return Latency(p50_ms=cuts[49], p99_ms=cuts[98])
