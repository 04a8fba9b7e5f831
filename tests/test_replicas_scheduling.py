"""Scheduling rules that replicas must share through PostgreSQL: the rate
limit's bucket and the TIMEOUT cancel sent through LISTEN/NOTIFY."""

from __future__ import annotations

import asyncio
import os
import signal
from datetime import timedelta

import grpc
import psycopg
import pytest

import workpool
from tests.conftest import ProtocolWorker, eventually
from tests.postgres import PostgresCluster
from tests.test_replicas import _start_replicas, _targets
from workpool.v1 import worker_service_pb2, worker_service_pb2_grpc

pytestmark = pytest.mark.skipif(
    not PostgresCluster.available(), reason="PostgreSQL is not installed"
)


@pytest.fixture
def database_url(postgres_cluster) -> str:
    return postgres_cluster.ensure_started().create_database()


def _start_times(url: str, pool: str) -> list[int]:
    with psycopg.connect(url) as connection:
        rows = connection.execute(
            "SELECT started_at_us FROM work WHERE pool = %s ORDER BY started_at_us",
            (pool,),
        ).fetchall()
    return [started for (started,) in rows]


async def test_replicas_share_rate_limit(spawn_server, database_url):
    """40 items at 20 per second with a burst of 2 over three replicas: no
    span of time contains more starts than the bucket allows."""
    replicas = await _start_replicas(spawn_server, database_url)
    client = workpool.AsyncClient(replicas[0].target)
    per_second, burst = 20.0, 2
    await client.create_pool(
        "rated",
        max_parallelism=100,
        rate_limit=workpool.RateLimit(per_second=per_second, burst=burst),
    )
    workers = []
    for index in range(6):
        worker = workpool.Worker(
            _targets(replicas, index % len(replicas)), pools=["rated"], capacity=4
        )
        worker.register("noop", lambda context, args: args)
        workers.append(worker)
    tasks = [asyncio.create_task(worker.run_async()) for worker in workers]
    ids = await client.enqueue_batch(
        "rated", [workpool.WorkItem("noop", {"n": n}) for n in range(40)]
    )

    async def all_finished() -> bool:
        statuses = await client.status_batch(ids)
        return all(s.state is workpool.WorkState.FINISHED for s in statuses)

    await eventually(all_finished, timeout=60, message="all 40 items to finish")
    starts = await asyncio.to_thread(_start_times, database_url, "rated")
    assert len(starts) == 40
    # The bucket allows at most burst + rate * span starts in any span; the
    # one extra start covers the token that rounding counts as whole.
    for first in range(len(starts)):
        for last in range(first + 1, len(starts)):
            span_seconds = (starts[last] - starts[first]) / 1_000_000
            allowed = burst + per_second * span_seconds + 1
            assert last - first + 1 <= allowed, (first, last, span_seconds)

    for worker in workers:
        await worker.stop(grace=timedelta(0))
    for task in tasks:
        task.cancel()
    await client.close()


async def test_timeout_cancel_crosses_replicas(spawn_server, database_url):
    """The replica that serves the worker stream is stopped while the attempt
    times out, so another replica ends it and the cancel reaches the worker
    through LISTEN/NOTIFY."""
    replicas = await _start_replicas(spawn_server, database_url, count=2)
    client = workpool.AsyncClient(replicas[1].target)
    await client.create_pool("timed")
    channel = grpc.aio.insecure_channel(replicas[0].target)
    worker = await ProtocolWorker(
        worker_service_pb2_grpc.WorkerServiceStub(channel), ["timed"], ["work"]
    ).start()
    work_id = await client.enqueue(
        "timed", "work", retry=False, attempt_timeout=timedelta(milliseconds=500)
    )
    await worker.wait_started(1)

    holder = replicas[0].process
    os.kill(holder.pid, signal.SIGSTOP)
    try:
        # Replica 1 learns of the deadline at its next dispatch pass, which
        # an enqueue after the deadline triggers.
        await asyncio.sleep(0.6)
        await client.enqueue("timed", "unserved")

        async def timed_out() -> bool:
            status = await client.status(work_id)
            return status.state is workpool.WorkState.FINISHED

        await eventually(timed_out, timeout=20, message="the timeout on replica 1")
    finally:
        os.kill(holder.pid, signal.SIGCONT)

    status = await client.status(work_id)
    assert status.result.error == "attempt timed out after 0.5s"
    timeout = worker_service_pb2.CANCEL_REASON_TIMEOUT
    await eventually(
        lambda: worker.cancels_for(timeout, work_id),
        timeout=20,
        message="the TIMEOUT cancel from the other replica",
    )
    await worker.close()
    await channel.close()
    await client.close()
