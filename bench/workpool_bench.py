"""The Workpool scenarios, each against servers and workers it starts itself.

Every scenario starts a new server on a new SQLite file in the run's
temporary folder (the PostgreSQL one uses a new database per replica count),
so earlier scenarios leave no rows behind. Loops are bounded by item counts,
and each measurement by ``MEASUREMENT_TIMEOUT_SECONDS``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import json
import random
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import grpc

import workpool
from bench import cpu
from bench.measure import drain_rates, percentile
from bench.postgres import PostgresCluster, running_cluster
from bench.processes import (
    completed_items,
    running_replicas,
    running_server,
    running_workers,
    worker_targets,
)
from bench.profiling import profiled
from bench.results import Results
from bench.sizes import Sizes
from bench.worker import FLAKY_FUNCTION, NOOP_FUNCTION, SLEEP_FUNCTION
from workpool.v1 import types_pb2, workpool_service_pb2, workpool_service_pb2_grpc

T = TypeVar("T")

ROOT = Path(__file__).resolve().parents[1]
MEASUREMENT_TIMEOUT_SECONDS = 300.0
PRELOAD_TIMEOUT_SECONDS = 1_800.0

# Each worker process runs up to 64 handlers at once, and pools allow 1,000,
# so that neither is the limit of the throughput scenarios.
WORKER_CAPACITY = 64
POOL_PARALLELISM = 1_000
MAX_BATCH = 10_000
# How often the benchmark reads the completion count from /metrics while it
# waits for a pool to finish; each read costs the server a scrape.
COMPLETION_POLL_SECONDS = 0.5
BACKLOG_FUNCTION = "bench.backlog"
STEADY_WORKERS = 8
# 6 is a multiple of every replica count, so each replica serves as many
# worker streams as the others.
POSTGRES_WORKERS = 6
UNARY_IN_FLIGHT = 64

# The handler of the parallelism-cap scenario sleeps this long, so a cap of C
# allows at most C / 0.05 items per second.
CAP_SLEEP_MS = 50

# Retry storm: 30 % of the items fail their first two attempts. The backoff
# before attempt k + 1 is 100 ms * 2^(k - 1), times the server's jitter.
RETRY_FAILING_SHARE = 0.3
RETRY_POLICY = workpool.RetryPolicy(
    max_attempts=3, initial_backoff=timedelta(milliseconds=100), base=2.0
)
# Items whose ready_at the benchmark samples with StatusBatch while they back off.
RETRY_SAMPLED_ITEMS = 200
RETRY_POLL_SECONDS = 0.01

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


async def measure(
    awaitable: Awaitable[T], limit: float = MEASUREMENT_TIMEOUT_SECONDS
) -> T:
    async with asyncio.timeout(limit):
        return await awaitable


def _noop_items(count: int, function: str = NOOP_FUNCTION) -> list[workpool.WorkItem]:
    return [workpool.WorkItem(function=function) for _ in range(count)]


def _micros(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


class CompletionStream:
    """A raw WatchCompletions stream on one pool, following the log live.

    It reads raw messages rather than the SDK's iterator so that it can wait
    for the first message, whose head_sequence proves the subscription exists
    before any item is enqueued.
    """

    def __init__(self, channel: grpc.aio.Channel, pool: str) -> None:
        stub = workpool_service_pb2_grpc.WorkpoolServiceStub(channel)
        request = workpool_service_pb2.WatchCompletionsRequest(pools=[pool])
        self._call = stub.WatchCompletions(request)

    async def __aenter__(self) -> CompletionStream:
        self._messages = self._call.__aiter__()
        await self._messages.__anext__()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._call.cancel()

    async def messages(
        self,
    ) -> AsyncIterator[workpool_service_pb2.WatchCompletionsResponse]:
        async for message in self._messages:
            yield message


async def preload(
    client: workpool.AsyncClient, pool: str, items: int, function: str = NOOP_FUNCTION
) -> float:
    """Enqueue ``items`` items in batches of 10,000; return items/s."""
    batch = _noop_items(MAX_BATCH, function)
    done = 0
    started = time.perf_counter()
    while done < items:
        size = min(MAX_BATCH, items - done)
        await client.enqueue_batch(pool, batch[:size])
        done += size
    return done / (time.perf_counter() - started)


# Enqueue


async def _enqueue_unary(client: workpool.AsyncClient, pool: str, calls: int) -> float:
    per_loop = calls // UNARY_IN_FLIGHT

    async def loop() -> None:
        for _ in range(per_loop):
            await client.enqueue(pool, NOOP_FUNCTION)

    started = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(UNARY_IN_FLIGHT)))
    return per_loop * UNARY_IN_FLIGHT / (time.perf_counter() - started)


async def _enqueue_batches(
    client: workpool.AsyncClient, pool: str, batch_size: int, items: int
) -> float:
    batch = _noop_items(batch_size)
    batches = max(1, items // batch_size)
    started = time.perf_counter()
    for _ in range(batches):
        await client.enqueue_batch(pool, batch)
    return batches * batch_size / (time.perf_counter() - started)


def bench_enqueue(folder: Path, sizes: Sizes, results: Results) -> None:
    print("Workpool: enqueue-unary and enqueue-batch (no workers)", flush=True)

    async def run(target: str) -> None:
        async with workpool.AsyncClient(target) as client:
            for repetition in range(sizes.repetitions):
                pool = f"unary-{repetition}"
                await client.create_pool(pool)
                await client.enqueue(pool, NOOP_FUNCTION)
                value = await measure(_enqueue_unary(client, pool, sizes.unary_calls))
                results.add("enqueue-unary", "64 in flight", value, "items/s")
            for batch_size, items in sizes.batch_items.items():
                for repetition in range(sizes.repetitions):
                    pool = f"batch-{batch_size}-{repetition}"
                    await client.create_pool(pool)
                    value = await measure(
                        _enqueue_batches(client, pool, batch_size, items)
                    )
                    results.add(
                        "enqueue-batch", f"batch {batch_size}", value, "items/s"
                    )

    with running_server(folder, "enqueue") as server, profiled(server.pid, "enqueue"):
        asyncio.run(run(server.target))


# Drain


async def _create_paused_pool(
    client: workpool.AsyncClient, pool: str, retry: workpool.RetryPolicy | None = None
) -> None:
    await client.create_pool(
        pool,
        max_parallelism=0,
        retry_by_default=retry is not None,
        default_retry=retry,
    )


def drain_backlog(
    target: str,
    metrics_urls: list[str],
    pool: str,
    items: int,
    sizes: Sizes,
    *,
    wait_for_all: bool = False,
    on_window: Callable[[], None] | None = None,
) -> list[float]:
    """Preload ``items`` no-ops into the paused pool, resume it, measure windows.

    The pool is created when missing. With ``wait_for_all``, it returns only
    after every preloaded item finished, so that the next drain of the same
    pool starts from an empty queue of runnable items.
    """

    async def load() -> tuple[int, float]:
        async with workpool.AsyncClient(target) as client:
            try:
                await _create_paused_pool(client, pool)
            except workpool.AlreadyExistsError:
                await client.update_pool(pool, max_parallelism=0)
            baseline = completed_items(metrics_urls, pool)
            rate = await measure(preload(client, pool, items), PRELOAD_TIMEOUT_SECONDS)
            return baseline, rate

    async def resume() -> None:
        async with workpool.AsyncClient(target) as client:
            await client.update_pool(pool, max_parallelism=POOL_PARALLELISM)

    baseline, rate = asyncio.run(load())
    print(f"  preloaded {items:,} items at {rate:,.0f} items/s", flush=True)

    def completed() -> int:
        return completed_items(metrics_urls, pool) - baseline

    asyncio.run(resume())
    rates = drain_rates(
        completed,
        items,
        sizes.repetitions,
        sizes.window_seconds,
        on_window=on_window,
    )
    deadline = time.monotonic() + MEASUREMENT_TIMEOUT_SECONDS
    while wait_for_all and completed() < items:
        if time.monotonic() > deadline:
            raise TimeoutError(f"pool {pool} did not finish {items:,} items")
        time.sleep(COMPLETION_POLL_SECONDS)
    return rates


def bench_drain(
    folder: Path, sizes: Sizes, results: Results, run_cap: bool = False
) -> None:
    """Measure drains; with ``run_cap``, run the parallelism caps afterwards.

    The caps need as many worker processes as the largest drain, and
    starting 64 of them takes tens of seconds on 2 cores, so the caps reuse
    that drain's server and workers. The drain pool is paused first, and
    its remaining items stay pending while the caps run.
    """
    largest = max(sizes.drain_workers)
    for workers in sizes.drain_workers:
        print(
            f"Workpool: drain of {sizes.drain_items:,} items, {workers} worker "
            "processes",
            flush=True,
        )
        with_cap = run_cap and workers == largest
        pools = ["drain", *(cap_pools(sizes) if with_cap else [])]
        records = folder / "cap-records" if with_cap else None
        with running_server(folder, f"drain-{workers}") as server:
            urls = [server.metrics_url]
            for pool in pools[1:]:
                _create_pool(server.target, pool, max_parallelism=0)
            with running_workers(
                [server.target] * workers, urls, pools, WORKER_CAPACITY, records
            ) as worker_set:
                with profiled(server.pid, f"drain-{workers}"):
                    rates = drain_backlog(
                        server.target, urls, "drain", sizes.drain_items, sizes
                    )
                if with_cap:
                    _pause(server.target, "drain")
                    run_caps(server.target, server.metrics_url, sizes)
            for rate in rates:
                results.add("drain", workers_variant(workers), rate, "items/s")
        if with_cap:
            record_caps(worker_set.record_files, sizes, results)


def _pause(target: str, pool: str) -> None:
    with workpool.Client(target) as client:
        client.update_pool(pool, max_parallelism=0)


def workers_variant(workers: int) -> str:
    return f"{workers} worker{'s' if workers > 1 else ''}"


# Steady end-to-end load


async def open_loop(
    client: workpool.AsyncClient,
    channel: grpc.aio.Channel,
    pool: str,
    rate: float,
    seconds: float,
    warmup_seconds: float = 1.0,
    stages: dict[str, list[float]] | None = None,
) -> tuple[float, float, int, int]:
    """Offer ``rate`` items/s for ``seconds``; return p50, p99 in ms, sent, lost.

    Items go out every 10 ms in one EnqueueBatch of as many items as the
    schedule owes, without waiting for earlier calls, so a slow server does
    not slow the offered load. Latency runs from the arrival of the enqueue
    response to the arrival of the item's completion on a subscriber in this
    process. Items accepted in the first ``warmup_seconds`` are left out.
    With ``stages``, each measured item also adds its time in ms to the lists
    under the names of ``STAGES``, read from wall clocks of this machine.
    """
    accepted: dict[str, float] = {}
    received: dict[str, float] = {}
    accepted_wall_us: dict[str, int] = {}
    # Per item: handler start, finished_at and arrival, wall clock in µs.
    stage_times: dict[str, tuple[int, int, int]] = {}
    measured: set[str] = set()
    sent = 0
    all_received = asyncio.Event()

    async with CompletionStream(channel, pool) as stream:

        async def collect() -> None:
            async for message in stream.messages():
                now = time.perf_counter()
                now_wall_us = time.time_ns() // 1_000
                for completion in message.completions:
                    received[completion.work_id] = now
                    if stages is not None:
                        stage_times[completion.work_id] = (
                            _handler_start_us(completion),
                            completion.finished_at.ToMicroseconds(),
                            now_wall_us,
                        )
                if sending_done and len(received) >= sent:
                    all_received.set()

        sending_done = False
        collector = asyncio.create_task(collect())
        started = time.perf_counter()
        calls: list[asyncio.Task[None]] = []

        async def send(count: int) -> None:
            ids = await client.enqueue_batch(pool, _noop_items(count))
            now = time.perf_counter()
            now_wall_us = time.time_ns() // 1_000
            for work_id in ids:
                accepted[work_id] = now
                accepted_wall_us[work_id] = now_wall_us
                if now - started >= warmup_seconds:
                    measured.add(work_id)

        while (elapsed := time.perf_counter() - started) < seconds:
            owed = int(rate * elapsed) - sent
            if owed > 0:
                calls.append(asyncio.create_task(send(owed)))
                sent += owed
            await asyncio.sleep(0.01)
        await asyncio.gather(*calls)

        sending_done = True
        if len(received) >= sent:
            all_received.set()
        # Items still missing after this wait count as lost.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(all_received.wait(), timeout=30)
        collector.cancel()

    latencies = [
        max(0.0, received[work_id] - accepted[work_id]) * 1_000
        for work_id in measured
        if work_id in received
    ]
    lost = sum(1 for work_id in measured if work_id not in received)
    if stages is not None:
        for work_id in measured & stage_times.keys():
            started_us, finished_us, arrived_us = stage_times[work_id]
            moments = (accepted_wall_us[work_id], started_us, finished_us, arrived_us)
            for name, (begin, end) in zip(
                STAGES, itertools.pairwise(moments), strict=True
            ):
                stages.setdefault(name, []).append(max(0, end - begin) / 1_000)
    return percentile(latencies, 0.5), percentile(latencies, 0.99), sent, lost


# The stages of an item's latency in open_loop. The first ends at the handler's
# start. The second ends at finished_at, stamped when the server queues the
# result's transaction. The third ends when the subscriber receives it.
STAGES = ("to start", "start to finished_at", "finished_at to arrival")


def _handler_start_us(completion: types_pb2.Completion) -> int:
    value = workpool.from_value(completion.result.success.return_value)
    return int(value["started_us"])


def steady_rates(
    drain_rate: float, levels: tuple[float, ...]
) -> list[tuple[str, float]]:
    return [(f"{round(level * 100)} %", drain_rate * level) for level in levels]


def bench_steady(
    folder: Path, sizes: Sizes, results: Results, drain_rate: float
) -> None:
    print(
        f"Workpool: steady load, {STEADY_WORKERS} worker processes, drain rate "
        f"{drain_rate:,.0f} items/s",
        flush=True,
    )

    async def run(target: str) -> None:
        async with (
            workpool.AsyncClient(target) as client,
            grpc.aio.insecure_channel(target) as channel,
        ):
            for variant, rate in steady_rates(drain_rate, sizes.steady_levels):
                for _ in range(sizes.repetitions):
                    # The target's load level is also split into its stages.
                    stages: dict[str, list[float]] | None = (
                        {} if variant == "50 %" else None
                    )
                    p50, p99, sent, lost = await measure(
                        open_loop(
                            client,
                            channel,
                            "steady",
                            rate,
                            sizes.steady_seconds,
                            sizes.steady_warmup_seconds,
                            stages,
                        )
                    )
                    results.add("steady", f"{variant} p50", p50, "ms")
                    results.add("steady", f"{variant} p99", p99, "ms")
                    for stage, values in (stages or {}).items():
                        for name, share in (("p50", 0.5), ("p99", 0.99)):
                            results.add(
                                "steady",
                                f"{variant} {stage} {name}",
                                percentile(values, share),
                                "ms",
                            )
                    if lost:
                        results.note(
                            "steady", f"{variant}: {lost} of {sent} items lost"
                        )

    with running_server(folder, "steady") as server:
        _create_pool(server.target, "steady")
        urls = [server.metrics_url]
        with (
            running_workers(
                [server.target] * STEADY_WORKERS, urls, ["steady"], WORKER_CAPACITY
            ),
            profiled(server.pid, "steady"),
        ):
            asyncio.run(run(server.target))


def _create_pool(
    target: str, pool: str, max_parallelism: int = POOL_PARALLELISM
) -> None:
    with workpool.Client(target) as client:
        client.create_pool(pool, max_parallelism=max_parallelism)


# Start latency


async def _start_latency(
    client: workpool.AsyncClient, channel: grpc.aio.Channel, pool: str, items: int
) -> dict[str, list[float]]:
    """Run ``items`` no-ops one after another; return latencies in ms.

    Under "total" is the handler's start time minus the item's
    ``enqueued_at``, both wall-clock readings on this machine. "to response"
    ends when the enqueue response arrives, and "response to start" is the
    rest. Each item is enqueued after the previous one completed, so the pool
    is idle when it arrives.
    """
    started_us: dict[str, int] = {}
    response_us: dict[str, int] = {}
    async with CompletionStream(channel, pool) as stream:
        messages = stream.messages()
        for _ in range(items):
            work_id = await client.enqueue(pool, NOOP_FUNCTION)
            response_us[work_id] = time.time_ns() // 1_000
            while work_id not in started_us:
                message = await anext(messages)
                for completion in message.completions:
                    started_us[completion.work_id] = _handler_start_us(completion)

    latencies: dict[str, list[float]] = {
        "total": [],
        "to response": [],
        "response to start": [],
    }
    ids = list(started_us)
    for offset in range(0, len(ids), MAX_BATCH):
        for status in await client.status_batch(ids[offset : offset + MAX_BATCH]):
            if status.enqueued_at is None:
                raise RuntimeError(f"{status.work_id} has no enqueued_at")
            accepted_us = _micros(status.enqueued_at)
            started = started_us[status.work_id]
            response = response_us[status.work_id]
            latencies["total"].append((started - accepted_us) / 1_000)
            latencies["to response"].append((response - accepted_us) / 1_000)
            latencies["response to start"].append((started - response) / 1_000)
    return latencies


def bench_start_latency(folder: Path, sizes: Sizes, results: Results) -> None:
    print(
        f"Workpool: start latency, {sizes.latency_items} sequential items", flush=True
    )

    async def run(target: str) -> None:
        async with (
            workpool.AsyncClient(target) as client,
            grpc.aio.insecure_channel(target) as channel,
        ):
            for _ in range(sizes.repetitions):
                latencies = await measure(
                    _start_latency(client, channel, "latency", sizes.latency_items)
                )
                for stage, values in latencies.items():
                    prefix = "" if stage == "total" else f"{stage} "
                    for name, share in (("p50", 0.5), ("p99", 0.99)):
                        results.add(
                            "start-latency",
                            f"{prefix}{name}",
                            percentile(values, share),
                            "ms",
                        )

    with running_server(folder, "latency") as server:
        _create_pool(server.target, "latency")
        urls = [server.metrics_url]
        with (
            running_workers([server.target], urls, ["latency"], WORKER_CAPACITY),
            profiled(server.pid, "start-latency"),
        ):
            asyncio.run(run(server.target))


# Completion fan-out


def bench_fan_out(
    folder: Path, sizes: Sizes, results: Results, drain_rate: float
) -> None:
    rate = drain_rate * 0.5
    print(f"Workpool: completion fan-out at {rate:,.0f} items/s", flush=True)

    async def load(target: str) -> None:
        async with (
            workpool.AsyncClient(target) as client,
            grpc.aio.insecure_channel(target) as channel,
        ):
            await open_loop(
                client,
                channel,
                "fanout",
                rate,
                sizes.steady_seconds,
                sizes.steady_warmup_seconds,
            )

    with running_server(folder, "fanout") as server:
        _create_pool(server.target, "fanout")
        urls = [server.metrics_url]
        with running_workers(
            [server.target] * STEADY_WORKERS, urls, ["fanout"], WORKER_CAPACITY
        ):
            for count in sizes.fanout_subscribers:
                for _ in range(sizes.repetitions):
                    lag = _with_subscribers(
                        server.target,
                        count,
                        sizes.steady_seconds,
                        lambda: asyncio.run(load(server.target)),
                    )
                    variant = f"{count} subscriber{'s' if count > 1 else ''}"
                    results.add("fan-out", f"{variant} p50", lag["p50_ms"], "ms")
                    results.add("fan-out", f"{variant} p99", lag["p99_ms"], "ms")


def _with_subscribers(target: str, count: int, seconds: float, body) -> dict:
    process = subprocess.Popen(
        [
            sys.executable, "-m", "bench.subscribers",
            "--target", target, "--pool", "fanout",
            "--count", str(count), "--seconds", str(seconds + 1),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError(f"the subscriber process printed {line!r}, not ready")
        body()
        output, _ = process.communicate(timeout=MEASUREMENT_TIMEOUT_SECONDS)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    lag = json.loads(output.strip().splitlines()[-1])
    if not lag.get("received"):
        raise RuntimeError("the subscribers received no completion")
    return lag


# Parallelism cap


def _max_overlap(intervals: list[tuple[int, int]]) -> int:
    events = sorted(
        [(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals]
    )
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    return peak


def _violations(intervals: list[tuple[int, int]], cap: int) -> int:
    """Return how many attempts started while ``cap`` others were running."""
    events = sorted(
        [(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals]
    )
    running = violations = 0
    for _, step in events:
        running += step
        if step == 1 and running > cap:
            violations += 1
    return violations


def read_attempts(files: list[Path]) -> list[tuple[str, str, int, int, int]]:
    """Return (pool, work_id, attempt, start_us, end_us) from the record files."""
    attempts = []
    for path in files:
        if not path.exists():
            continue
        for line in path.read_text().splitlines():
            pool, work_id, attempt, start, end = line.split()
            attempts.append((pool, work_id, int(attempt), int(start), int(end)))
    return attempts


def cap_pools(sizes: Sizes) -> list[str]:
    return [
        f"cap-{cap}-{run}" for cap in sizes.caps for run in range(sizes.repetitions)
    ]


def run_caps(target: str, metrics_url: str, sizes: Sizes) -> None:
    """Run every cap's items through its paused pool, one pool at a time."""
    print(f"Workpool: parallelism caps {sizes.caps}", flush=True)

    async def run_one(pool: str, cap: int) -> None:
        items = max(cap, round(cap * sizes.cap_seconds * 1_000 / CAP_SLEEP_MS))
        batch = [
            workpool.WorkItem(function=SLEEP_FUNCTION, args={"ms": CAP_SLEEP_MS})
            for _ in range(items)
        ]
        async with workpool.AsyncClient(target) as client:
            for offset in range(0, items, MAX_BATCH):
                await client.enqueue_batch(pool, batch[offset : offset + MAX_BATCH])
            await client.update_pool(pool, max_parallelism=cap)

            deadline = time.monotonic() + MEASUREMENT_TIMEOUT_SECONDS
            while completed_items([metrics_url], pool) < items:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"pool {pool} did not finish {items} items")
                await asyncio.sleep(COMPLETION_POLL_SECONDS)

    for cap in sizes.caps:
        for repetition in range(sizes.repetitions):
            asyncio.run(run_one(f"cap-{cap}-{repetition}", cap))


def record_caps(record_files: list[Path], sizes: Sizes, results: Results) -> None:
    """Add each cap run's throughput over its ideal, violations and peak."""
    attempts = read_attempts(record_files)
    for cap in sizes.caps:
        for repetition in range(sizes.repetitions):
            pool = f"cap-{cap}-{repetition}"
            intervals = [
                (start, end) for name, _, _, start, end in attempts if name == pool
            ]
            if not intervals:
                raise RuntimeError(f"no attempt of pool {pool} was recorded")
            first = min(start for start, _ in intervals)
            last = max(end for _, end in intervals)
            rate = len(intervals) / ((last - first) / 1e6)
            ideal = cap * 1_000 / CAP_SLEEP_MS
            scenario = "parallelism-cap"
            results.add(
                scenario, f"cap {cap} throughput / ideal", rate / ideal, "ratio"
            )
            results.add(
                scenario,
                f"cap {cap} violations",
                _violations(intervals, cap),
                "attempts",
            )
            results.add(
                scenario,
                f"cap {cap} peak running",
                _max_overlap(intervals),
                "attempts",
            )


def bench_cap(folder: Path, sizes: Sizes, results: Results) -> None:
    """Run the caps on a server of their own, when the drains do not run."""
    workers = max(sizes.drain_workers)
    pools = cap_pools(sizes)
    records = folder / "cap-records"
    with running_server(folder, "cap") as server:
        for pool in pools:
            _create_pool(server.target, pool, max_parallelism=0)
        with running_workers(
            [server.target] * workers,
            [server.metrics_url],
            pools,
            WORKER_CAPACITY,
            records,
        ) as worker_set:
            run_caps(server.target, server.metrics_url, sizes)
    record_caps(worker_set.record_files, sizes, results)


# Retry storm


def _flaky_items(count: int, chooser: random.Random) -> list[workpool.WorkItem]:
    return [
        workpool.WorkItem(
            function=FLAKY_FUNCTION,
            args={"fail_attempts": 2 if chooser.random() < RETRY_FAILING_SHARE else 0},
        )
        for _ in range(count)
    ]


async def _retry_storm(
    client: workpool.AsyncClient,
    pool: str,
    metrics_url: str,
    rate: float,
    seconds: float,
    chooser: random.Random,
) -> dict[tuple[str, int], int]:
    """Offer ``rate`` flaky items/s for ``seconds``; return the sampled ready_at.

    Items go out every 10 ms as in ``open_loop``. The first 200 items that
    are planned to fail are polled while they back off.
    """
    sampled: list[str] = []
    stop = asyncio.Event()
    ready: dict[tuple[str, int], int] = {}

    async def poll() -> None:
        while not stop.is_set():
            if sampled:
                for status in await client.status_batch(list(sampled)):
                    if (
                        status.state == workpool.WorkState.PENDING
                        and status.previous_attempts > 0
                        and status.ready_at is not None
                    ):
                        key = (status.work_id, status.previous_attempts + 1)
                        ready[key] = _micros(status.ready_at)
            await asyncio.sleep(RETRY_POLL_SECONDS)

    async def send(count: int) -> None:
        items = _flaky_items(count, chooser)
        ids = await client.enqueue_batch(pool, items)
        for work_id, item in zip(ids, items, strict=True):
            if item.args["fail_attempts"] and len(sampled) < RETRY_SAMPLED_ITEMS:
                sampled.append(work_id)

    poller = asyncio.create_task(poll())
    started = time.perf_counter()
    sent = 0
    calls: list[asyncio.Task[None]] = []
    while (elapsed := time.perf_counter() - started) < seconds:
        owed = int(rate * elapsed) - sent
        if owed > 0:
            calls.append(asyncio.create_task(send(owed)))
            sent += owed
        await asyncio.sleep(0.01)
    await asyncio.gather(*calls)

    deadline = time.monotonic() + MEASUREMENT_TIMEOUT_SECONDS
    while completed_items([metrics_url], pool) < sent:
        if time.monotonic() > deadline:
            raise TimeoutError(f"pool {pool} did not finish its {sent} items")
        await asyncio.sleep(COMPLETION_POLL_SECONDS)
    stop.set()
    await poller
    return ready


def bench_retry_storm(
    folder: Path, sizes: Sizes, results: Results, drain_rate: float
) -> None:
    """Offer 50 % of ``drain_rate`` of items of which 30 % fail twice.

    The figures are the lateness of the sampled retries (start minus
    ready_at) and the rate at which first attempts start while the load is
    offered, which the ratio compares with the offered rate.
    """
    rate = 0.5 * drain_rate
    print(
        f"Workpool: retry storm at {rate:,.0f} items/s, "
        f"{RETRY_FAILING_SHARE:.0%} fail twice",
        flush=True,
    )
    records = folder / "retry-records"
    chooser = random.Random(7)
    pools = [f"retry-{run}" for run in range(sizes.repetitions)]

    async def run_all(target: str, metrics_url: str) -> list[dict]:
        async with workpool.AsyncClient(target) as client:
            for pool in pools:
                await client.create_pool(
                    pool,
                    max_parallelism=POOL_PARALLELISM,
                    retry_by_default=True,
                    default_retry=RETRY_POLICY,
                )
            return [
                await _retry_storm(
                    client, pool, metrics_url, rate, sizes.steady_seconds, chooser
                )
                for pool in pools
            ]

    with running_server(folder, "retry") as server:
        with (
            running_workers(
                [server.target] * STEADY_WORKERS,
                [server.metrics_url],
                pools,
                WORKER_CAPACITY,
                records,
            ) as worker_set,
            profiled(server.pid, "retry-storm"),
        ):
            samples = asyncio.run(run_all(server.target, server.metrics_url))
        record_files = worker_set.record_files

    attempts = read_attempts(record_files)
    for pool, ready in zip(pools, samples, strict=True):
        starts = {
            (work_id, attempt): start
            for name, work_id, attempt, start, _ in attempts
            if name == pool
        }
        lateness = [
            (starts[key] - ready_us) / 1_000
            for key, ready_us in ready.items()
            if key in starts
        ]
        if not lateness:
            raise RuntimeError(f"no retry of pool {pool} was sampled")
        first = sorted(start for (_, attempt), start in starts.items() if attempt == 1)
        first_rate = len(first) / ((first[-1] - first[0]) / 1e6)
        scenario = "retry-storm"
        results.add(scenario, "retry lateness p99", percentile(lateness, 0.99), "ms")
        results.add(scenario, "retry lateness p50", percentile(lateness, 0.5), "ms")
        results.add(scenario, "first-attempt throughput", first_rate, "items/s")
        results.add(scenario, "offered load", rate, "items/s")


# Backlog depth


def clone_finished_rows(database: Path, template_id: str, copies: int) -> None:
    """Insert ``copies`` copies of the finished work row ``template_id``.

    Running a million items through workers, or canceling them with
    CancelAll (about 2,300 items/s here), takes minutes, so the benchmark
    copies one finished row in SQL while the server is stopped. Every column
    but the ``seq`` key is copied, and each copy gets a new, valid id:
    ``wk_`` and 26 decimal digits, which are ULID characters.
    """
    connection = sqlite3.connect(database, isolation_level=None)
    try:
        columns = [row[1] for row in connection.execute("PRAGMA table_info(work)")]
        if "id" not in columns:
            raise RuntimeError(
                f"{database} has no work.id column; update clone_finished_rows to "
                "the server's new schema"
            )
        copied = [column for column in columns if column != "seq"]
        values = [
            "'wk_' || printf('%026d', n.x)" if column == "id" else f"work.{column}"
            for column in copied
        ]
        connection.execute("BEGIN IMMEDIATE")
        connection.execute(
            f"INSERT INTO work ({', '.join(copied)}) "
            "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n "
            f"WHERE x < ?) SELECT {', '.join(values)} FROM work, n WHERE work.id = ?",
            (copies, template_id),
        )
        connection.execute("COMMIT")
    finally:
        connection.close()


def bench_backlog(folder: Path, sizes: Sizes, results: Results) -> None:
    print(
        f"Workpool: backlog depths {sizes.backlog_depths}, with "
        f"{sizes.finished_rows:,} finished rows retained",
        flush=True,
    )

    async def cancel_one(target: str) -> str:
        # An item enqueued into a paused pool and canceled is a finished row,
        # which the pool's default 24 h status TTL keeps.
        async with workpool.AsyncClient(target) as client:
            await _create_paused_pool(client, "finished")
            work_id = await client.enqueue("finished", NOOP_FUNCTION)
            await client.cancel(work_id)
            return work_id

    async def add_backlog(target: str, items: int) -> None:
        # Ready items of a function that no worker serves, in the measured pool.
        async with workpool.AsyncClient(target) as client:
            await measure(
                preload(client, "depth", items, BACKLOG_FUNCTION),
                PRELOAD_TIMEOUT_SECONDS,
            )

    with running_server(folder, "backlog") as server:
        template_id = asyncio.run(cancel_one(server.target))
        database = server.database
    started = time.perf_counter()
    clone_finished_rows(database, template_id, sizes.finished_rows - 1)
    print(
        f"  copied {sizes.finished_rows - 1:,} finished rows in "
        f"{time.perf_counter() - started:.0f} s",
        flush=True,
    )

    with running_server(folder, "backlog") as server:
        _create_pool(server.target, "depth", max_parallelism=0)
        urls = [server.metrics_url]
        depth = 0
        with running_workers(
            [server.target] * STEADY_WORKERS, urls, ["depth"], WORKER_CAPACITY
        ):
            # The server restarted on a million copied rows, so a first,
            # unrecorded drain warms SQLite's page cache before depth 0.
            warmup = dataclasses.replace(sizes, repetitions=1)
            drain_backlog(
                server.target,
                urls,
                "depth",
                sizes.backlog_drain_items // 5,
                warmup,
                wait_for_all=True,
            )
            for target_depth in sizes.backlog_depths:
                if target_depth > depth:
                    asyncio.run(add_backlog(server.target, target_depth - depth))
                    depth = target_depth
                with profiled(server.pid, f"backlog-{target_depth}"):
                    rates = drain_backlog(
                        server.target,
                        urls,
                        "depth",
                        sizes.backlog_drain_items,
                        sizes,
                        wait_for_all=True,
                    )
                for rate in rates:
                    results.add(
                        "backlog-depth", f"depth {target_depth:,}", rate, "items/s"
                    )


# PostgreSQL replicas


def bench_postgres(folder: Path, sizes: Sizes, results: Results) -> None:
    if not PostgresCluster.available():
        results.note("postgres", "skipped: initdb or pg_ctl not found")
        return
    with running_cluster() as cluster:
        for count in sizes.postgres_replicas:
            print(
                f"Workpool on PostgreSQL: {count} replicas, {POSTGRES_WORKERS} worker "
                "processes",
                flush=True,
            )
            # A new database per replica count, so that earlier counts leave
            # no rows behind.
            database_url = cluster.create_database()
            with running_replicas(database_url, count, folder) as servers:
                targets = worker_targets(servers, POSTGRES_WORKERS)
                urls = [server.metrics_url for server in servers]
                variant = f"{count} replica{'s' if count > 1 else ''}"
                with running_workers(
                    targets, urls, ["drain", "steady"], WORKER_CAPACITY
                ) as workers:
                    groups = {
                        "postgres": cpu.Group((cluster.postmaster_pid(),)),
                        "servers": cpu.Group(tuple(server.pid for server in servers)),
                        "workers": cpu.Group(tuple(workers.pids)),
                    }
                    # One CPU reading per drain window, as a share of both
                    # cores.
                    samples: list[cpu.CpuSample] = []
                    moments: list[float] = []

                    def sample_cpu(groups=groups, samples=samples, moments=moments):
                        samples.append(cpu.sample(groups))
                        moments.append(time.monotonic())

                    with profiled(servers[0].pid, f"postgres-{count}"):
                        rates = drain_backlog(
                            servers[0].target,
                            urls,
                            "drain",
                            sizes.postgres_items,
                            sizes,
                            on_window=sample_cpu,
                        )
                    for rate in rates:
                        results.add("postgres", f"drain {variant}", rate, "items/s")

                    for index in range(1, len(samples)):
                        shares = cpu.shares(
                            samples[index - 1],
                            samples[index],
                            moments[index] - moments[index - 1],
                        )
                        for group, share in shares.items():
                            results.add(
                                "postgres", f"cpu {variant} {group}", share, "% of CPU"
                            )

                    # The items left stay pending in the paused pool while
                    # the steady load runs on another one.
                    _pause(servers[0].target, "drain")

                    _create_pool(servers[0].target, "steady")
                    steady_rate = 0.5 * statistics.median(rates)
                    asyncio.run(
                        _steady_on(
                            servers[0].target, steady_rate, sizes, results, variant
                        )
                    )


async def _steady_on(
    target: str, rate: float, sizes: Sizes, results: Results, variant: str
) -> None:
    async with (
        workpool.AsyncClient(target) as client,
        grpc.aio.insecure_channel(target) as channel,
    ):
        for _ in range(sizes.repetitions):
            p50, p99, sent, lost = await measure(
                open_loop(
                    client,
                    channel,
                    "steady",
                    rate,
                    sizes.steady_seconds,
                    sizes.steady_warmup_seconds,
                )
            )
            results.add("postgres", f"steady 50 % {variant} p50", p50, "ms")
            results.add("postgres", f"steady 50 % {variant} p99", p99, "ms")
            if lost:
                results.note(
                    "postgres", f"steady {variant}: {lost} of {sent} items lost"
                )


# Soak


def _rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1_024
    raise RuntimeError(f"no VmRSS in /proc/{pid}/status")


def bench_soak(
    folder: Path, sizes: Sizes, results: Results, drain_rate: float, minutes: float
) -> None:
    """Offer 50 % of ``drain_rate`` for ``minutes``, in steps of 30 s.

    Each step records the server's RSS and the latency percentiles of its
    items, so the first and last five minutes can be compared.
    """
    rate = 0.5 * drain_rate
    steps = max(1, round(minutes * 2))
    print(f"Workpool: soak at {rate:,.0f} items/s for {minutes:g} minutes", flush=True)
    results.add("soak", "offered load", rate, "items/s")

    async def run(target: str, pid: int) -> None:
        async with (
            workpool.AsyncClient(target) as client,
            grpc.aio.insecure_channel(target) as channel,
        ):
            for step in range(steps):
                p50, p99, sent, lost = await open_loop(
                    client, channel, "soak", rate, 30.0
                )
                minute = (step + 1) / 2
                results.add("soak", "p99 by step", p99, "ms")
                results.add("soak", "rss by step", _rss_bytes(pid) / 1e6, "MB")
                print(
                    f"  minute {minute:g}: p50 {p50:.1f} ms, p99 {p99:.1f} ms",
                    flush=True,
                )
                if lost:
                    results.note(
                        "soak", f"minute {minute:g}: {lost} of {sent} items lost"
                    )

    with running_server(folder, "soak") as server:
        _create_pool(server.target, "soak")
        urls = [server.metrics_url]
        with running_workers(
            [server.target] * STEADY_WORKERS, urls, ["soak"], WORKER_CAPACITY
        ):
            asyncio.run(run(server.target, server.pid))
