"""Benchmark the Workpool server, with servers and workers in subprocesses.

On SQLite, measures enqueue throughput by batch size, end-to-end throughput
through worker processes, start latency on an idle pool, and both again with a
large backlog of another function in the same pool. On a throwaway PostgreSQL
cluster, measures end-to-end throughput with 1, 2 and 3 server replicas and
the CPU share of PostgreSQL, the servers, the workers and the client. Each
figure is measured several times; the median, min and max go to
bench/results/ and to a table on stdout.
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
from bench import cpu, replicas, scenarios  # noqa: E402
from bench.postgres import PostgresCluster, running_cluster  # noqa: E402
from bench.processes import WorkerProcesses, connected_workers  # noqa: E402
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

# Replica counts of the PostgreSQL scenario, and its worker processes: 6 is a
# multiple of every count, so each replica serves the same number of them.
REPLICA_COUNTS = (1, 2, 3)
REPLICA_WORKER_PROCESSES = 6


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


def create_pool(target: str, pool: str) -> None:
    with workpool.Client(target) as client:
        client.create_pool(pool, max_parallelism=POOL_PARALLELISM)


@contextmanager
def running_workers(
    targets: list[str], metrics_urls: list[str], pool: str
) -> Iterator[WorkerProcesses]:
    """Run one worker process per target for an existing pool.

    ``metrics_urls`` are those of every server the workers may connect to.
    """
    workers = WorkerProcesses(targets, [pool], WORKER_CAPACITY)
    try:
        workers.start(metrics_urls)
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
            create_pool(server.target, "e2e")
            with running_workers([server.target] * count, [server.metrics_url], "e2e"):
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
        create_pool(server.target, "latency")
        with running_workers([server.target], [server.metrics_url], "latency"):
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
            create_pool(server.target, "backlog")
            # The workers start after the preload, so that it competes with
            # nothing, and they never run the backlog's function.
            if backlog:
                asyncio.run(_preload(server.target, backlog))

            name = f"backlog_{backlog}"
            with running_workers([server.target], [server.metrics_url], "backlog"):
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


def bench_postgres(folder: Path, sizes: Sizes, figures: Figures) -> None:
    if not PostgresCluster.available():
        print("PostgreSQL replicas: skipped, initdb or pg_ctl not found", flush=True)
        return
    with running_cluster() as cluster:
        for count in REPLICA_COUNTS:
            print(
                f"PostgreSQL, server replicas: {count}, worker processes: "
                f"{REPLICA_WORKER_PROCESSES}",
                flush=True,
            )
            # A new database per replica count, so that earlier counts leave
            # no rows behind.
            database_url = cluster.create_database()
            with replicas.running_replicas(database_url, count, folder) as servers:
                create_pool(servers[0].target, "e2e")
                targets = replicas.worker_targets(servers, REPLICA_WORKER_PROCESSES)
                metrics_urls = [server.metrics_url for server in servers]
                with running_workers(targets, metrics_urls, "e2e") as workers:
                    spread = [connected_workers(url) for url in metrics_urls]
                    print(f"  worker streams per replica: {spread}", flush=True)
                    groups = {
                        "postgres": cpu.Group((cluster.postmaster_pid(),)),
                        "servers": cpu.Group(tuple(server.pid for server in servers)),
                        "workers": cpu.Group(tuple(workers.pids)),
                        "client": cpu.Group((os.getpid(),), descendants=False),
                    }
                    name = f"postgres_{count}_replica{'s' if count > 1 else ''}"
                    asyncio.run(
                        _repeat_replicas(
                            servers[0].target, sizes, figures, name, groups
                        )
                    )


async def _repeat_replicas(
    target: str,
    sizes: Sizes,
    figures: Figures,
    scenario: str,
    groups: dict[str, cpu.Group],
) -> None:
    """Measure end-to-end throughput and CPU shares. The client uses ``target``."""
    async with workpool.AsyncClient(target) as client:
        channel = grpc_channel(target)
        try:
            for _ in range(sizes.repetitions):
                rate, shares = await measure(
                    replicas.measure_throughput_and_cpu(
                        client, channel, "e2e", sizes.end_to_end_items, groups
                    )
                )
                figures.add(f"{scenario}_throughput", rate, "items/s")
                for group, share in shares.items():
                    figures.add(f"{scenario}_cpu_{group}", share, "% of CPU")
        finally:
            await channel.close()


def machine_description() -> str:
    cpu = "unknown CPU"
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} CPUs, {cpu}, Python {platform.python_version()}"


def load_average() -> str:
    """Return the 1, 5 and 15 minute load averages, as `uptime` shows them."""
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())


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
    print(f"Load average at start: {load_average()}")
    figures = Figures()
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="workpool-bench-") as temp:
            folder = Path(temp)
            bench_enqueue(folder, sizes, figures)
            bench_end_to_end(folder, sizes, figures)
            bench_idle_latency(folder, sizes, figures)
            bench_backlog(folder, sizes, figures)
            bench_postgres(folder, sizes, figures)
    except KeyboardInterrupt:
        print("\nInterrupted; the benchmark stopped every process it started.")
        return 130

    summary = figures.summary()
    print_table(summary)
    RESULTS_DIR.mkdir(exist_ok=True)
    output.write_text(json.dumps(summary, indent=2) + "\n")
    elapsed = time.monotonic() - started
    print(f"\nLoad average at end: {load_average()}")
    print(f"Wrote {output.relative_to(ROOT)} after {elapsed:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
