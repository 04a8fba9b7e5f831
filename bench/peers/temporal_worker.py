"""A Temporal worker process for the Temporal peer: one workflow, one activity.

``NoopWorkflow`` runs the no-op activity ``noop`` once and returns, which is
the smallest Temporal unit that matches one Workpool item run by a worker.
Run as ``python -m bench.peers.temporal_worker TARGET TASK_QUEUE``; it stops
on SIGTERM.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker

# Each worker process runs up to 64 activities and 64 workflow tasks at once,
# like a Workpool worker process's capacity.
CONCURRENCY = 64


@activity.defn(name="noop")
async def noop() -> None:
    return None


@workflow.defn(name="NoopWorkflow", sandboxed=False)
class NoopWorkflow:
    @workflow.run
    async def run(self) -> None:
        await workflow.execute_activity(
            "noop", start_to_close_timeout=timedelta(seconds=60)
        )


async def serve(target: str, task_queue: str) -> None:
    client = await Client.connect(target)
    worker = Worker(
        client,
        task_queue=task_queue,
        workflows=[NoopWorkflow],
        activities=[noop],
        max_concurrent_activities=CONCURRENCY,
        max_concurrent_workflow_tasks=CONCURRENCY,
    )
    stopped = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopped.set)
    async with worker:
        await stopped.wait()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1], sys.argv[2]))
