"""Attempt history: one row per attempt, its outcome written when the attempt
ends, returned by Status with include_attempts and deleted with the item.

The server grants 5 s leases; they expire only when a test advances the fake
clock.
"""

from __future__ import annotations

from datetime import timedelta

import grpc
import pytest
from sqlalchemy import create_engine, func, select

from tests.conftest import eventually
from workpool import AttemptOutcome, NotFoundError, WorkState
from workpool.v1 import worker_service_pb2_grpc, workpool_service_pb2
from workpool_server.clock import datetime_to_micros
from workpool_server.store.database import sqlalchemy_url
from workpool_server.store.schema import attempts

LEASE = timedelta(seconds=5)
# Backoffs before attempts 2, 3 and 4 under the default policy, jitter 1.
BACKOFFS = [timedelta(milliseconds=250), timedelta(milliseconds=500)]


@pytest.fixture
async def server(make_server, fake_clock):
    return await make_server(
        clock=fake_clock, lease_us=5_000_000, heartbeat_interval_us=1_000_000
    )


async def own_channel_worker(protocol_workers, target, name: str):
    """Start a worker on a channel of its own, so that dropping its stream
    leaves the test's channel alone."""
    channel = grpc.aio.insecure_channel(target)
    stub = worker_service_pb2_grpc.WorkerServiceStub(channel)
    return await protocol_workers(["jobs"], ["job"], stub=stub, name=name)


async def wait_previous_attempts(client, work_id: str, count: int) -> None:
    async def ended() -> bool:
        status = await client.status(work_id)
        return status.previous_attempts >= count and status.state is not (
            WorkState.RUNNING
        )

    await eventually(ended, message=f"{count} ended attempts of {work_id}")


async def test_history_records_each_way_an_attempt_ends(
    workpool_client, protocol_workers, target, fake_clock
):
    await workpool_client.create_pool("jobs", retry_by_default=True)
    alpha = await own_channel_worker(protocol_workers, target, "alpha")
    work_id = await workpool_client.enqueue("jobs", "job")
    starts = []
    ends = []

    # Attempt 1 fails.
    await alpha.wait_started(1)
    starts.append(fake_clock.now_us())
    await alpha.fail(work_id, "boom")
    ends.append(fake_clock.now_us())
    fake_clock.advance(BACKOFFS[0])

    # Attempt 2 sends no heartbeat, so its lease expires. alpha has capacity
    # 1 and gets no credit back for it.
    await alpha.wait_started(2)
    starts.append(fake_clock.now_us())
    fake_clock.advance(LEASE)
    await wait_previous_attempts(workpool_client, work_id, 2)
    ends.append(fake_clock.now_us())
    fake_clock.advance(BACKOFFS[1])

    # Attempt 3 runs on a worker whose stream then closes.
    gamma = await own_channel_worker(protocol_workers, target, "gamma")
    await gamma.wait_started(1)
    starts.append(fake_clock.now_us())
    gamma.drop()
    await wait_previous_attempts(workpool_client, work_id, 3)
    ends.append(fake_clock.now_us())
    fake_clock.advance(timedelta(seconds=1))

    # Attempt 4 succeeds.
    beta = await protocol_workers(["jobs"], ["job"], name="beta")
    await beta.wait_started(1)
    starts.append(fake_clock.now_us())
    await beta.succeed(work_id, {"ok": True})
    ends.append(fake_clock.now_us())

    status = await workpool_client.status(work_id, include_attempts=True)

    assert status.state is WorkState.FINISHED
    assert [a.attempt for a in status.attempts] == [1, 2, 3, 4]
    assert [a.outcome for a in status.attempts] == [
        AttemptOutcome.FAILURE,
        AttemptOutcome.LEASE_EXPIRED,
        AttemptOutcome.WORKER_LOST,
        AttemptOutcome.SUCCESS,
    ]
    assert [a.worker_name for a in status.attempts] == [
        "alpha",
        "alpha",
        "gamma",
        "beta",
    ]
    assert all(a.worker_id.startswith("ws_") for a in status.attempts)
    assert status.attempts[0].worker_id == status.attempts[1].worker_id
    assert status.attempts[1].worker_id != status.attempts[2].worker_id
    assert status.attempts[0].error == "boom"
    assert status.attempts[1].error.startswith("lease expired")
    assert status.attempts[2].error.startswith("worker lost")
    assert status.attempts[3].error == ""
    assert [datetime_to_micros(a.started_at) for a in status.attempts] == starts
    assert [datetime_to_micros(a.ended_at) for a in status.attempts] == ends


async def test_running_attempt_has_no_end(workpool_client, protocol_workers):
    await workpool_client.create_pool("jobs")
    worker = await protocol_workers(["jobs"], ["job"], name="slow")
    work_id = await workpool_client.enqueue("jobs", "job")
    await worker.wait_started(1)

    status = await workpool_client.status(work_id, include_attempts=True)

    assert status.state is WorkState.RUNNING
    assert len(status.attempts) == 1
    running = status.attempts[0]
    assert running.attempt == 1
    assert running.worker_name == "slow"
    assert running.started_at is not None
    assert running.ended_at is None
    assert running.outcome is None
    assert running.error == ""


async def test_failure_after_cancel_request_is_canceled(
    workpool_client, protocol_workers
):
    await workpool_client.create_pool("jobs", retry_by_default=True)
    worker = await protocol_workers(["jobs"], ["job"])
    work_id = await workpool_client.enqueue("jobs", "job")
    await worker.wait_started(1)

    await workpool_client.cancel(work_id)
    await worker.fail(work_id, "interrupted")
    status = await workpool_client.status(work_id, include_attempts=True)

    assert [a.outcome for a in status.attempts] == [AttemptOutcome.CANCELED]
    assert status.attempts[0].error == "interrupted"


async def test_pending_cancel_adds_no_attempt(workpool_client):
    await workpool_client.create_pool("jobs")
    work_id = await workpool_client.enqueue("jobs", "job")

    await workpool_client.cancel(work_id)
    status = await workpool_client.status(work_id, include_attempts=True)

    assert status.state is WorkState.FINISHED
    assert status.attempts == ()


async def test_status_omits_attempts_unless_asked(
    workpool_client, protocol_workers, stubs
):
    await workpool_client.create_pool("jobs")
    worker = await protocol_workers(["jobs"], ["job"])
    work_id = await workpool_client.enqueue("jobs", "job")
    await worker.wait_started(1)
    await worker.succeed(work_id)

    plain = await stubs.workpool.Status(
        workpool_service_pb2.StatusRequest(work_id=work_id)
    )
    full = await stubs.workpool.Status(
        workpool_service_pb2.StatusRequest(work_id=work_id, include_attempts=True)
    )
    batch = await stubs.workpool.StatusBatch(
        workpool_service_pb2.StatusBatchRequest(work_ids=[work_id])
    )

    assert len(plain.status.attempts) == 0
    assert len(full.status.attempts) == 1
    assert len(batch.statuses[0].attempts) == 0


async def test_status_sweep_deletes_attempts(
    server, workpool_client, protocol_workers, fake_clock
):
    await workpool_client.create_pool("jobs", status_ttl=timedelta(seconds=10))
    worker = await protocol_workers(["jobs"], ["job"])
    work_id = await workpool_client.enqueue("jobs", "job")
    await worker.wait_started(1)
    await worker.succeed(work_id)

    fake_clock.advance(timedelta(seconds=11))

    async def expired() -> bool:
        try:
            await workpool_client.status(work_id)
        except NotFoundError:
            return True
        return False

    await eventually(expired, message=f"status sweep of {work_id}")
    engine = create_engine(sqlalchemy_url(server.config.database_url))
    try:
        with engine.connect() as connection:
            left = connection.execute(
                select(func.count()).where(attempts.c.work_id == work_id)
            ).scalar_one()
    finally:
        engine.dispose()
    assert left == 0


async def test_delete_pool_deletes_attempts(server, workpool_client, protocol_workers):
    await workpool_client.create_pool("jobs")
    worker = await protocol_workers(["jobs"], ["job"])
    work_id = await workpool_client.enqueue("jobs", "job")
    await worker.wait_started(1)
    await worker.succeed(work_id)

    await workpool_client.delete_pool("jobs")

    engine = create_engine(sqlalchemy_url(server.config.database_url))
    try:
        with engine.connect() as connection:
            left = connection.execute(select(func.count()).select_from(attempts))
            count = left.scalar_one()
    finally:
        engine.dispose()
    assert count == 0
