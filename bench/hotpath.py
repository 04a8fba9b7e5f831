"""Measure the server's hot paths on SQLite, optionally under py-spy.

Two figures per repetition, each on a new server and database file:

- enqueue: ``EnqueueBatch`` calls of 1,000 no-op items, no workers;
- drain: the same number of items enqueued first, then one worker process of
  capacity 64 started. The time runs from the worker's start until a
  ``WatchCompletions`` subscriber has received every completion.

Each figure comes with the server process's CPU time (user plus system, all
threads) per item over the same interval. On a shared machine the rates move
with other load, while the CPU time per item moves much less.

Run it from the repository root, for example
``.venv/bin/python -m bench.hotpath --items 20000 --repetitions 3``. With
``--profile-dir DIR`` it runs ``py-spy record`` on the server during each
drain and writes one raw (collapsed stack) file per repetition there.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import grpc

import workpool
from bench import cpu
from bench.processes import WorkerProcesses, running_server
from bench.workpool_bench import CompletionStream, _enqueue_batches
from demo.services import WorkpoolProcess

POOL = "hot"
BATCH = 1_000
CAPACITY = 64


@dataclass(frozen=True)
class Figure:
    """Items per second, and the server's CPU time per item in microseconds."""

    rate: float
    cpu_us: float


def _server_cpu_seconds(server: WorkpoolProcess) -> float:
    group = cpu.Group((server.pid,), descendants=False)
    return cpu.sample({"server": group}).groups["server"]


async def _enqueue(server: WorkpoolProcess, items: int) -> Figure:
    async with workpool.AsyncClient(server.target) as client:
        await client.create_pool(POOL, max_parallelism=1_000)
        cpu_before = _server_cpu_seconds(server)
        rate = await _enqueue_batches(client, POOL, BATCH, items)
        cpu_used = _server_cpu_seconds(server) - cpu_before
    return Figure(rate, cpu_used / items * 1e6)


async def _drain(
    server: WorkpoolProcess, items: int, profile: Path | None, py_spy: str | None
) -> Figure:
    async with workpool.AsyncClient(server.target) as client:
        await client.create_pool(POOL, max_parallelism=1_000)
        await _enqueue_batches(client, POOL, BATCH, items)

    channel = grpc.aio.insecure_channel(server.target)
    workers = WorkerProcesses([server.target], [POOL], CAPACITY)
    profiler = None
    try:
        async with CompletionStream(channel, POOL) as stream:
            if profile is not None and py_spy is not None:
                profiler = _start_profiler(py_spy, server.pid, profile)
            cpu_before = _server_cpu_seconds(server)
            started = time.perf_counter()
            await asyncio.to_thread(workers.start, [server.metrics_url])
            seen = 0
            async for message in stream.messages():
                seen += len(message.completions)
                if seen >= items:
                    break
            rate = items / (time.perf_counter() - started)
            cpu_used = _server_cpu_seconds(server) - cpu_before
            return Figure(rate, cpu_used / items * 1e6)
    finally:
        if profiler is not None:
            _stop_profiler(profiler)
        workers.stop()
        await channel.close()


def _start_profiler(py_spy: str, pid: int, output: Path) -> subprocess.Popen[bytes]:
    command = [py_spy, "record", "--pid", str(pid), "--format", "raw"]
    command += ["--output", str(output), "--rate", "200", "--nonblocking"]
    return subprocess.Popen(command)


def _stop_profiler(profiler: subprocess.Popen[bytes]) -> None:
    # py-spy writes its output file when it receives SIGINT.
    profiler.send_signal(signal.SIGINT)
    profiler.wait(timeout=30)


def _run_once(
    folder: Path, items: int, profile: Path | None, py_spy: str | None
) -> tuple[Figure, Figure]:
    figures = []
    for name in ("enqueue", "drain"):
        with running_server(folder, name) as server:
            if name == "enqueue":
                figures.append(asyncio.run(_enqueue(server, items)))
            else:
                figures.append(asyncio.run(_drain(server, items, profile, py_spy)))
    return figures[0], figures[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=20_000, help="items per run")
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument(
        "--profile-dir", type=Path, help="folder for py-spy raw profiles"
    )
    parser.add_argument("--py-spy", default="py-spy", help="py-spy executable")
    options = parser.parse_args()

    py_spy = None
    if options.profile_dir is not None:
        py_spy = shutil.which(options.py_spy)
        if py_spy is None:
            parser.error(f"--py-spy {options.py_spy!r} not found: install py-spy")
        options.profile_dir.mkdir(parents=True, exist_ok=True)

    enqueues: list[Figure] = []
    drains: list[Figure] = []
    for repetition in range(options.repetitions):
        profile = None
        if options.profile_dir is not None:
            profile = options.profile_dir / f"drain-{repetition}.txt"
        with tempfile.TemporaryDirectory(prefix="workpool-hotpath-") as folder:
            enqueue, drain = _run_once(Path(folder), options.items, profile, py_spy)
        enqueues.append(enqueue)
        drains.append(drain)
        print(
            f"run {repetition + 1}: enqueue {enqueue.rate:,.0f}/s "
            f"({enqueue.cpu_us:.0f} us CPU/item), drain {drain.rate:,.0f}/s "
            f"({drain.cpu_us:.0f} us CPU/item)"
        )

    summary = {"items": options.items}
    for name, figures in (("enqueue", enqueues), ("drain", drains)):
        rates = [figure.rate for figure in figures]
        costs = [figure.cpu_us for figure in figures]
        summary[f"{name}_items_per_second"] = [round(rate) for rate in rates]
        summary[f"{name}_median"] = round(statistics.median(rates))
        summary[f"{name}_server_cpu_us_per_item"] = [round(cost, 1) for cost in costs]
        summary[f"{name}_cpu_median"] = round(statistics.median(costs), 1)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
