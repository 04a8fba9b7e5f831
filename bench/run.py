"""Benchmark the Workpool server on SQLite, with the server in a subprocess.

Measures enqueue throughput by batch size, end-to-end throughput through
worker processes, start latency on an idle pool, and both again with a large
backlog of another function in the same pool. Each figure is measured several
times; the median, min and max go to bench/results/ and to a table on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

# `python bench/run.py` puts bench/ first on sys.path; the repository root
# makes the bench and demo packages importable as packages.
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import grpc  # noqa: E402

import workpool  # noqa: E402
from bench import scenarios  # noqa: E402
from bench.processes import WorkerProcesses  # noqa: E402
from demo.services import WorkpoolProcess  # noqa: E402

T = TypeVar("T")

RESULTS_DIR = ROOT / "bench" / "results"

# Upper bounds that stop a measurement or a preload that hangs.
MEASUREMENT_TIMEOUT_SECONDS = 300.0
PRELOAD_TIMEOUT_SECONDS = 1_800.0

# Worker and pool settings of the scenarios that run items: enough slots
# that neither the pool's parallelism nor a worker's capacity is the limit.
WORKER_CAPACITY = 64
POOL_PARALLELISM = 1_000


@dataclass(frozen=True)
class Sizes:
    """How much work each measurement does, and how often it repeats."""

    repetitions: int
    enqueue_items: dict[int, int]
    end_to_end_items: int
    latency_items: int
    backlog: int


FULL = Sizes(
    repetitions=5,
    enqueue_items={1: 1_000, 100: 10_000, 1_000: 20_000},
    end_to_end_items=10_000,
    latency_items=200,
    backlog=1_000_000,
)
QUICK = Sizes(
    repetitions=3,
    enqueue_items={1: 300, 100: 3_000, 1_000: 10_000},
    end_to_end_items=3_000,
    latency_items=200,
    backlog=100_000,
)


@dataclass
class Figures:
    """Every measured value per scenario, with its unit."""

    values: dict[str, list[float]] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)

    def add(self, scenario: str, value: float, unit: str) -> None:
        self.values.setdefault(scenario, []).append(value)
        self.units[scenario] = unit
        print(f"  {scenario}: {value:,.1f} {unit}", flush=True)

    def summary(self) -> dict[str, dict[str, float | str]]:
        return {
            scenario: {
                "median": statistics.median(values),
                "min": min(values),
                "max": max(values),
                "unit": self.units[scenario],
            }
            for scenario, values in self.values.items()
        }


async def measure(
    awaitable: Awaitable[T], limit_seconds: float = MEASUREMENT_TIMEOUT_SECONDS
) -> T:
    """Await one measurement; raise TimeoutError after ``limit_seconds``."""
    async with asyncio.timeout(limit_seconds):
        return await awaitable


@contextmanager
def running_server(folder: Path, name: str) -> Iterator[WorkpoolProcess]:
    """Run a server with a new SQLite file and the default settings."""
    server = WorkpoolProcess(folder, database_name=f"{name}.db", log_level="WARNING")
    try:
        server.start()
        yield server
    finally:
        server.stop()


def create_pool(server: WorkpoolProcess, pool: str) -> None:
    with workpool.Client(server.target) as client:
        client.create_pool(pool, max_parallelism=POOL_PARALLELISM)


@contextmanager
def running_workers(
    server: WorkpoolProcess, pool: str, count: int
) -> Iterator[WorkerProcesses]:
    """Run ``count`` worker processes for an existing pool."""
    workers = WorkerProcesses(server.target, [pool], count, WORKER_CAPACITY)
    try:
        workers.start(server.metrics_url)
        yield workers
    finally:
        workers.stop()


def bench_enqueue(folder: Path, sizes: Sizes, figures: Figures) -> None:
    print("Enqueue throughput (no workers, sequential calls)", flush=True)

    async def run(target: str) -> None:
        async with workpool.AsyncClient(target) as client:
            for batch_size, items in sizes.enqueue_items.items():
                for repetition in range(sizes.repetitions):
                    pool = f"enqueue-{batch_size}-{repetition}"
                    await client.create_pool(pool)
                    value = await measure(
                        scenarios.enqueue_throughput(client, pool, batch_size, items)
                    )
                    figures.add(f"enqueue_batch_{batch_size}", value, "items/s")

    with running_server(folder, "enqueue") as server:
        asyncio.run(run(server.target))


def bench_end_to_end(folder: Path, sizes: Sizes, figures: Figures) -> None:
    for count in (1, 4):
        print(f"End-to-end throughput, worker processes: {count}", flush=True)
        scenario = f"end_to_end_{count}_worker{'s' if count > 1 else ''}"
        with running_server(folder, f"end-to-end-{count}") as server:
            create_pool(server, "e2e")
            with running_workers(server, "e2e", count):
                asyncio.run(
                    _repeat_throughput(server.target, "e2e", sizes, figures, scenario)
                )


async def _repeat_throughput(
    target: str, pool: str, sizes: Sizes, figures: Figures, scenario: str
) -> None:
    async with workpool.AsyncClient(target) as client:
        channel = grpc_channel(target)
        try:
            for _ in range(sizes.repetitions):
                value = await measure(
                    scenarios.end_to_end_throughput(
                        client, channel, pool, sizes.end_to_end_items
                    )
                )
                figures.add(scenario, value, "items/s")
        finally:
            await channel.close()


async def _repeat_latency(
    target: str, pool: str, sizes: Sizes, figures: Figures, scenario: str
) -> None:
    async with workpool.AsyncClient(target) as client:
        channel = grpc_channel(target)
        try:
            for _ in range(sizes.repetitions):
                latency = await measure(
                    scenarios.start_latency(client, channel, pool, sizes.latency_items)
                )
                figures.add(f"{scenario}_p50", latency.p50_ms, "ms")
                figures.add(f"{scenario}_p99", latency.p99_ms, "ms")
        finally:
            await channel.close()


def grpc_channel(target: str) -> grpc.aio.Channel:
    """Open the channel that the raw completion streams use."""
    return grpc.aio.insecure_channel(target)


def bench_idle_latency(folder: Path, sizes: Sizes, figures: Figures) -> None:
    print(
        f"Start latency on an idle pool, {sizes.latency_items} sequential items",
        flush=True,
    )
    with running_server(folder, "latency") as server:
        create_pool(server, "latency")
        with running_workers(server, "latency", 1):
            asyncio.run(
                _repeat_latency(
                    server.target, "latency", sizes, figures, "start_latency"
                )
            )


def bench_backlog(folder: Path, sizes: Sizes, figures: Figures) -> None:
    for backlog in (0, sizes.backlog):
        print(
            f"Dispatch with {backlog:,} pending items of another function", flush=True
        )
        with running_server(folder, f"backlog-{backlog}") as server:
            create_pool(server, "backlog")
            # The workers start after the preload, so that it competes with
            # nothing, and they never run the backlog's function.
            if backlog:
                asyncio.run(_preload(server.target, backlog))

            name = f"backlog_{backlog}"
            with running_workers(server, "backlog", 1):
                asyncio.run(
                    _repeat_latency(
                        server.target, "backlog", sizes, figures, f"{name}_latency"
                    )
                )
                asyncio.run(
                    _repeat_throughput(
                        server.target, "backlog", sizes, figures, f"{name}_throughput"
                    )
                )


async def _preload(target: str, items: int) -> None:
    async with workpool.AsyncClient(target) as client:
        count, rate = await measure(
            scenarios.preload(client, "backlog", items), PRELOAD_TIMEOUT_SECONDS
        )
    print(
        f"  preloaded {count:,} items in batches of {scenarios.MAX_BATCH:,} "
        f"at {rate:,.0f} items/s",
        flush=True,
    )


def machine_description() -> str:
    cpu = "unknown CPU"
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} CPUs, {cpu}, Python {platform.python_version()}"


def print_table(summary: dict[str, dict[str, float | str]]) -> None:
    width = max(len(name) for name in summary)
    print(f"\n{'scenario':<{width}}  {'median':>12}  {'min':>12}  {'max':>12}  unit")
    for name, row in summary.items():
        print(
            f"{name:<{width}}  {row['median']:>12,.1f}  {row['min']:>12,.1f}  "
            f"{row['max']:>12,.1f}  {row['unit']}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="3 runs instead of 5, fewer items, and a backlog of 100,000 instead "
        "of 1,000,000; writes bench/results/quick.json",
    )
    options = parser.parse_args()
    sizes = QUICK if options.quick else FULL
    output = RESULTS_DIR / ("quick.json" if options.quick else "latest.json")

    print(f"Machine: {machine_description()}")
    figures = Figures()
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="workpool-bench-") as temp:
            folder = Path(temp)
            bench_enqueue(folder, sizes, figures)
            bench_end_to_end(folder, sizes, figures)
            bench_idle_latency(folder, sizes, figures)
            bench_backlog(folder, sizes, figures)
    except KeyboardInterrupt:
        print("\nInterrupted; the benchmark stopped every process it started.")
        return 130

    summary = figures.summary()
    print_table(summary)
    RESULTS_DIR.mkdir(exist_ok=True)
    output.write_text(json.dumps(summary, indent=2) + "\n")
    elapsed = time.monotonic() - started
    print(f"\nWrote {output.relative_to(ROOT)} after {elapsed:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
