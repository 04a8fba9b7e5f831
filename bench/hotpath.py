"""Measure the server's hot paths on SQLite, optionally under py-spy.

Two figures per repetition, each on a new server and database file:

- enqueue: ``EnqueueBatch`` calls of 1,000 no-op items, no workers;
- drain: the same number of items enqueued first, then one worker process of
  capacity 64 started; the time runs from the worker's start until a
  ``WatchCompletions`` subscriber has received every completion.

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
from pathlib import Path

import workpool
from bench import scenarios
from bench.processes import ServerProcess, WorkerProcesses
from bench.run import grpc_channel

POOL = "hot"
BATCH = 1_000
CAPACITY = 64


async def _enqueue(target: str, items: int) -> float:
    async with workpool.AsyncClient(target) as client:
        await client.create_pool(POOL, max_parallelism=1_000)
        return await scenarios.enqueue_throughput(client, POOL, BATCH, items)


async def _drain(
    server: ServerProcess, items: int, profile: Path | None, py_spy: str | None
) -> float:
    async with workpool.AsyncClient(server.target) as client:
        await client.create_pool(POOL, max_parallelism=1_000)
        await scenarios.enqueue_throughput(client, POOL, BATCH, items)

    channel = grpc_channel(server.target)
    workers = WorkerProcesses([server.target], [POOL], CAPACITY)
    profiler = None
    try:
        async with scenarios.CompletionStream(channel, POOL) as stream:
            if profile is not None and py_spy is not None:
                profiler = _start_profiler(py_spy, server.pid, profile)
            started = time.perf_counter()
            await asyncio.to_thread(workers.start, [server.metrics_url])
            seen = 0
            async for _ in stream.completions():
                seen += 1
                if seen == items:
                    break
            return items / (time.perf_counter() - started)
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
) -> tuple[float, float]:
    figures = []
    for name in ("enqueue", "drain"):
        server = ServerProcess(f"sqlite:///{folder / name}.db", folder / f"{name}.log")
        server.start()
        try:
            if name == "enqueue":
                figures.append(asyncio.run(_enqueue(server.target, items)))
            else:
                figures.append(asyncio.run(_drain(server, items, profile, py_spy)))
        finally:
            server.stop()
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

    enqueue_rates: list[float] = []
    drain_rates: list[float] = []
    for repetition in range(options.repetitions):
        profile = None
        if options.profile_dir is not None:
            profile = options.profile_dir / f"drain-{repetition}.txt"
        with tempfile.TemporaryDirectory(prefix="workpool-hotpath-") as folder:
            enqueue, drain = _run_once(Path(folder), options.items, profile, py_spy)
        enqueue_rates.append(enqueue)
        drain_rates.append(drain)
        print(f"run {repetition + 1}: enqueue {enqueue:,.0f}/s, drain {drain:,.0f}/s")

    print(
        json.dumps(
            {
                "items": options.items,
                "enqueue_median": round(statistics.median(enqueue_rates)),
                "drain_median": round(statistics.median(drain_rates)),
                "enqueue": [round(value) for value in enqueue_rates],
                "drain": [round(value) for value in drain_rates],
            }
        )
    )


if __name__ == "__main__":
    main()
