"""Celery 5 with a Redis broker, on the benchmark's workload.

Run as ``python -m bench.peers.celery_peer enqueue|preload COUNT`` with
``BENCH_REDIS_URL`` set, it measures in a process of its own, so that the
Celery application is configured for that Redis before it is imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import redis

from bench.measure import drain_rates, repeated_drains
from bench.peers.processes import ROOT, check_running, running_processes
from bench.peers.redis_server import running_redis
from bench.results import Results
from bench.sizes import Sizes

NAME = "celery"
IN_FLIGHT = 64


def _enqueue(calls: int) -> float:
    """Call apply_async ``calls`` times from 64 threads; return calls/s."""
    from bench.peers.celery_app import noop

    noop.apply_async()
    per_thread = calls // IN_FLIGHT
    barrier = threading.Barrier(IN_FLIGHT + 1)

    def loop() -> None:
        barrier.wait()
        for _ in range(per_thread):
            noop.apply_async()

    with ThreadPoolExecutor(IN_FLIGHT) as executor:
        futures = [executor.submit(loop) for _ in range(IN_FLIGHT)]
        barrier.wait()
        started = time.perf_counter()
        for future in futures:
            future.result()
        return per_thread * IN_FLIGHT / (time.perf_counter() - started)


def _preload(count: int) -> float:
    from bench.peers.celery_app import app

    started = time.perf_counter()
    with app.producer_or_acquire() as producer:
        for _ in range(count):
            app.send_task("bench.noop", producer=producer)
    return count / (time.perf_counter() - started)


def _call(redis_url: str, command: str, count: int) -> float:
    output = subprocess.run(
        [sys.executable, "-m", "bench.peers.celery_peer", command, str(count)],
        cwd=ROOT,
        env=_env(redis_url),
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    ).stdout
    return float(json.loads(output.strip().splitlines()[-1])["rate"])


def _env(redis_url: str) -> dict[str, str]:
    return {**os.environ, "BENCH_REDIS_URL": redis_url}


def _worker_command(concurrency: int) -> list[str]:
    return [
        sys.executable, "-m", "celery", "-A", "bench.peers.celery_app", "worker",
        "--pool", "prefork", "--concurrency", str(concurrency),
        "--without-gossip", "--without-mingle", "--without-heartbeat",
        "--loglevel", "WARNING",
    ]  # fmt: skip


def run(folder: Path, sizes: Sizes, results: Results) -> None:
    items = sizes.peer_drain_items[NAME]
    with running_redis(folder) as redis_url:
        for _ in range(sizes.repetitions):
            rate = _call(redis_url, "enqueue", sizes.unary_calls)
            results.add("enqueue-unary", "64 in flight", rate, "items/s", NAME)

        counter = redis.Redis.from_url(redis_url)
        for workers in sizes.peer_drain_workers:

            def drain(windows: int, workers: int = workers) -> list[float]:
                print(f"Celery: drain of {items:,} tasks, {workers} worker processes")
                counter.flushdb()
                rate = _call(redis_url, "preload", items)
                print(f"  preloaded {items:,} tasks at {rate:,.0f} tasks/s", flush=True)
                with running_processes(
                    [_worker_command(workers)],
                    {"BENCH_REDIS_URL": redis_url},
                    folder / f"celery-{workers}.log",
                ) as processes:
                    check_running(processes, "Celery")
                    return drain_rates(
                        lambda: int(counter.get("bench:completed") or 0),
                        items,
                        windows,
                        sizes.window_seconds,
                    )

            variant = f"{workers} worker{'s' if workers > 1 else ''}"
            for value in repeated_drains(drain, sizes.repetitions):
                results.add("drain", variant, value, "items/s", NAME)
        counter.close()


def main() -> None:
    command, count = sys.argv[1], int(sys.argv[2])
    rate = _enqueue(count) if command == "enqueue" else _preload(count)
    print(json.dumps({"rate": rate}))


if __name__ == "__main__":
    main()
