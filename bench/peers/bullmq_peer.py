"""BullMQ on Node with Redis, on the benchmark's workload.

The Node side is bench/peers/bullmq/bench.mjs, with the versions pinned in
its package-lock.json (`npm ci` in that folder installs them). Each worker
process runs one BullMQ Worker with a concurrency of 64, like a Workpool
worker process's capacity.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import redis

from bench.measure import drain_rates, repeated_drains
from bench.peers import BULLMQ_DIR
from bench.peers.processes import check_running, running_processes
from bench.peers.redis_server import running_redis
from bench.results import Results
from bench.sizes import Sizes

NAME = "bullmq"
SCRIPT = BULLMQ_DIR / "bench.mjs"
WORKER_CONCURRENCY = 64
COMPLETED_KEY = "bull:bench:completed"


def _call(command: str, redis_url: str, count: int) -> float:
    output = subprocess.run(
        ["node", str(SCRIPT), command, redis_url, str(count)],
        cwd=BULLMQ_DIR,
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    ).stdout
    return float(json.loads(output.strip().splitlines()[-1])["rate"])


def run(folder: Path, sizes: Sizes, results: Results) -> None:
    items = sizes.peer_drain_items[NAME]
    with running_redis(folder) as redis_url:
        counter = redis.Redis.from_url(redis_url)
        for _ in range(sizes.repetitions):
            counter.flushdb()
            rate = _call("enqueue", redis_url, sizes.unary_calls)
            results.add("enqueue-unary", "64 in flight", rate, "items/s", NAME)

        for workers in sizes.peer_drain_workers:
            command = [
                "node",
                str(SCRIPT),
                "worker",
                redis_url,
                str(WORKER_CONCURRENCY),
            ]

            def drain(
                windows: int, workers: int = workers, command: list[str] = command
            ) -> list[float]:
                print(f"BullMQ: drain of {items:,} jobs, {workers} worker processes")
                counter.flushdb()
                rate = _call("preload", redis_url, items)
                print(f"  preloaded {items:,} jobs at {rate:,.0f} jobs/s", flush=True)
                with running_processes(
                    [command] * workers,
                    {},
                    folder / f"bullmq-{workers}.log",
                    cwd=BULLMQ_DIR,
                ) as processes:
                    check_running(processes, "BullMQ")
                    return drain_rates(
                        lambda: int(counter.zcard(COMPLETED_KEY)),
                        items,
                        windows,
                        sizes.window_seconds,
                    )

            variant = f"{workers} worker{'s' if workers > 1 else ''}"
            for value in repeated_drains(drain, sizes.repetitions):
                results.add("drain", variant, value, "items/s", NAME)
        counter.close()
