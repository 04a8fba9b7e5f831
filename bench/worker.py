"""A benchmark worker process serving the benchmark's functions.

``bench.noop`` returns the wall-clock time it started, in microseconds since
the epoch, so the benchmark can measure start latency across processes.
``bench.sleep`` sleeps ``args["ms"]`` milliseconds. ``bench.flaky`` fails its
first ``args["fail_attempts"]`` attempts and then succeeds. With ``--record``,
the process writes one line per attempt of ``bench.sleep`` and
``bench.flaky``, ``pool work_id attempt start_us end_us``, to that file when
it stops. Stop it with SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import workpool

NOOP_FUNCTION = "bench.noop"
SLEEP_FUNCTION = "bench.sleep"
FLAKY_FUNCTION = "bench.flaky"


class PlannedFailure(Exception):
    """The failure ``bench.flaky`` raises on purpose."""


class AttemptRecorder:
    """Attempt start and end times, kept in memory and written at exit."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, context: workpool.WorkContext, start_us: int) -> None:
        end_us = time.time_ns() // 1_000
        self.lines.append(
            f"{context.pool} {context.work_id} {context.attempt} {start_us} {end_us}\n"
        )


def build_worker(options: argparse.Namespace, recorder: AttemptRecorder | None):
    worker = workpool.Worker(
        options.target,
        pools=options.pools,
        capacity=options.capacity,
        name=f"bench-worker-{os.getpid()}",
    )

    async def noop(context: workpool.WorkContext, args: Any) -> dict[str, int]:
        return {"started_us": time.time_ns() // 1_000}

    async def sleep(context: workpool.WorkContext, args: Any) -> dict[str, int]:
        start_us = time.time_ns() // 1_000
        await asyncio.sleep(args["ms"] / 1_000)
        if recorder is not None:
            recorder.add(context, start_us)
        return {"started_us": start_us}

    async def flaky(context: workpool.WorkContext, args: Any) -> dict[str, int]:
        start_us = time.time_ns() // 1_000
        if recorder is not None:
            recorder.add(context, start_us)
        if context.attempt <= args["fail_attempts"]:
            raise PlannedFailure(f"planned failure of attempt {context.attempt}")
        return {"started_us": start_us}

    worker.register(NOOP_FUNCTION, noop)
    worker.register(SLEEP_FUNCTION, sleep)
    worker.register(FLAKY_FUNCTION, flaky)
    return worker


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--target", required=True, help="server address HOST:PORT")
    parser.add_argument("--pool", action="append", required=True, dest="pools")
    parser.add_argument("--capacity", type=int, default=64, help="handlers at once")
    parser.add_argument("--record", type=Path, help="file for attempt times")
    options = parser.parse_args()

    # The SDK logs every failed attempt at WARNING with its traceback, which
    # for bench.flaky would be thousands of planned failures.
    logging.basicConfig(level=logging.ERROR)
    recorder = AttemptRecorder() if options.record else None
    worker = build_worker(options, recorder)
    worker.run(shutdown_grace=timedelta(seconds=5))
    if recorder is not None:
        options.record.write_text("".join(recorder.lines))


if __name__ == "__main__":
    main()
