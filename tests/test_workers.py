"""Worker failures and leases: dead and hung workers, heartbeats, stale results.

The server here grants 5 s leases with a 1 s heartbeat interval. Leases are
judged by the fake clock, so one expires only when a test advances the clock.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import grpc
import pytest

import workpool
from tests.conftest import eventually, logged_completions
from workpool import ResultKind, WorkState
from workpool.v1 import worker_service_pb2, worker_service_pb2_grpc

LEASE = timedelta(seconds=5)
# Backoff before attempt 2 under the default retry policy, jitter factor 1.
FIRST_BACKOFF = timedelta(milliseconds=250)
LEASE_LOST = worker_service_pb2.CANCEL_REASON_LEASE_LOST


@pytest.fixture
async def server(make_server, fake_clock):
    return await make_server(
        clock=fake_clock, lease_us=5_000_000, heartbeat_interval_us=1_000_000
    )


async def create_retrying_pool(client, name: str = "jobs", **settings) -> None:
    pool = await client.create_pool(name, retry_by_default=True, **settings)
    assert pool.default_retry.max_attempts == 5


@pytest.mark.parametrize("death", ["call_canceled", "channel_closed"])
async def test_dead_worker_attempt_retried_elsewhere(
    workpool_client, protocol_workers, target, fake_clock, death
):
    await create_retrying_pool(workpool_client, max_parallelism=1)
    # The doomed worker has a connection of its own, as another process would.
    channel = grpc.aio.insecure_channel(target)
    doomed = await protocol_workers(
        ["jobs"],
        ["job"],
        stub=worker_service_pb2_grpc.WorkerServiceStub(channel),
        name="doomed",
    )
    first = await workpool_client.enqueue("jobs", "job", {"n": 1})
    await doomed.wait_started(1)

    survivor = await protocol_workers(["jobs"], ["job"], name="survivor")
    second = await workpool_client.enqueue("jobs", "job", {"n": 2})
    waiting = await workpool_client.status(second)
    assert waiting.state is WorkState.PENDING

    # The only slot of the pool is freed when the stream dies, before the
    # clock moves, so the second item starts while the first backs off.
    if death == "call_canceled":
        doomed.drop()
    else:
        await channel.close()
    await survivor.wait_started(1)
    assert survivor.started[0].work_id == second
    assert [started.work_id for started in doomed.started] == [first]

    lost = await workpool_client.status(first)
    assert lost.state is WorkState.PENDING
    assert lost.previous_attempts == 1
    assert lost.last_error is not None
    assert lost.last_error.startswith("worker lost")

    await survivor.succeed(second)
    fake_clock.advance(FIRST_BACKOFF)
    await survivor.wait_started(2)
    retry = survivor.started[1]
    assert (retry.work_id, retry.attempt) == (first, 2)

    await survivor.succeed(first, "done")
    finished = await workpool_client.status(first)
    assert finished.state is WorkState.FINISHED
    assert finished.previous_attempts == 2
    assert finished.result is not None
    assert finished.result.kind is ResultKind.SUCCESS
    assert finished.result.return_value == "done"
    await channel.close()


async def test_hung_worker_lease_expires_then_retries(
    workpool_client, protocol_workers, fake_clock
):
    await create_retrying_pool(workpool_client)
    hung = await protocol_workers(["jobs"], ["job"], name="hung")
    work_id = await workpool_client.enqueue("jobs", "job")
    await hung.wait_started(1)
    spare = await protocol_workers(["jobs"], ["job"], name="spare")

    # The stream stays open, but no heartbeat comes.
    fake_clock.advance(LEASE)
    await eventually(
        lambda: hung.cancels_for(LEASE_LOST, work_id), message="lease-lost cancel"
    )
    assert [cancel.attempt for cancel in hung.cancels_for(LEASE_LOST, work_id)] == [1]

    expired = await workpool_client.status(work_id)
    assert expired.state is WorkState.PENDING
    assert expired.previous_attempts == 1
    assert expired.result is None
    assert expired.last_error is not None
    assert expired.last_error.startswith("lease expired")

    fake_clock.advance(FIRST_BACKOFF)
    await spare.wait_started(1)
    assert (spare.started[0].work_id, spare.started[0].attempt) == (work_id, 2)
    retrying = await workpool_client.status(work_id)
    assert retrying.state is WorkState.RUNNING
    assert retrying.previous_attempts == 1


async def test_heartbeats_keep_long_job_leased(
    workpool_client, protocol_workers, fake_clock
):
    await create_retrying_pool(workpool_client)
    steady = await protocol_workers(["jobs"], ["job"], name="steady")
    work_id = await workpool_client.enqueue("jobs", "job")
    await steady.wait_started(1)
    idle = await protocol_workers(["jobs"], ["job"], name="idle")

    # 60 s in steps shorter than the lease: twelve lease lengths in all.
    for _ in range(15):
        fake_clock.advance(timedelta(seconds=4))
        await steady.heartbeat([work_id])

    assert steady.cancels_for(LEASE_LOST, work_id) == []
    assert idle.started == []
    running = await workpool_client.status(work_id)
    assert running.state is WorkState.RUNNING
    assert running.previous_attempts == 0

    await steady.succeed(work_id, "after a minute")
    assert steady.acks[(work_id, 1)] is True
    finished = await workpool_client.status(work_id)
    assert finished.state is WorkState.FINISHED
    assert finished.previous_attempts == 1
    assert finished.result is not None
    assert finished.result.return_value == "after a minute"


async def test_stale_result_acknowledged_without_effect(
    workpool_client, protocol_workers, stubs, fake_clock
):
    await create_retrying_pool(workpool_client)
    slow = await protocol_workers(["jobs"], ["job"], name="slow")
    work_id = await workpool_client.enqueue("jobs", "job")
    await slow.wait_started(1)
    fresh = await protocol_workers(["jobs"], ["job"], name="fresh")

    fake_clock.advance(LEASE)
    await eventually(
        lambda: slow.cancels_for(LEASE_LOST, work_id), message="lease-lost cancel"
    )
    fake_clock.advance(FIRST_BACKOFF)
    await fresh.wait_started(1)

    # Attempt 1 ended with its lease, and its result arrives late.
    assert await slow.report_success(work_id, 1, "late") is False
    # The stream holding the lease reports an attempt number that is not current.
    assert await fresh.report_success(work_id, 1, "wrong attempt") is False

    unchanged = await workpool_client.status(work_id)
    assert unchanged.state is WorkState.RUNNING
    assert unchanged.previous_attempts == 1
    assert unchanged.result is None

    await fresh.succeed(work_id, "current")
    assert fresh.acks[(work_id, 2)] is True
    finished = await workpool_client.status(work_id)
    assert finished.result is not None
    assert finished.result.return_value == "current"

    entries = await logged_completions(stubs.workpool)
    assert [entry.work_id for entry in entries] == [work_id]
    assert entries[0].attempts == 2
    assert entries[0].result.success.return_value.string_value == "current"


async def test_same_name_reconnect_cannot_touch_old_lease(
    workpool_client, protocol_workers, fake_clock
):
    await create_retrying_pool(workpool_client)
    old = await protocol_workers(["jobs"], ["job"], name="host-1")
    work_id = await workpool_client.enqueue("jobs", "job")
    await old.wait_started(1)

    # The restarted process connects under the same name while the old
    # stream is still open.
    new = await protocol_workers(["jobs"], ["job"], name="host-1")
    fake_clock.advance(timedelta(seconds=4))
    await new.heartbeat([work_id])
    assert len(new.cancels_for(LEASE_LOST, work_id)) == 1
    assert await new.report_success(work_id, 1, "from the new stream") is False

    still_running = await workpool_client.status(work_id)
    assert still_running.state is WorkState.RUNNING
    assert still_running.previous_attempts == 0

    # A renewal by the new stream's heartbeat would have moved the lease end
    # to 9 s, but it ends at 5 s.
    fake_clock.advance(timedelta(seconds=1))
    await eventually(
        lambda: old.cancels_for(LEASE_LOST, work_id), message="lease-lost cancel"
    )
    expired = await workpool_client.status(work_id)
    assert expired.state is WorkState.PENDING
    assert expired.previous_attempts == 1
    assert expired.last_error is not None
    assert expired.last_error.startswith("lease expired")

    # The retry is a new lease, which the new stream may hold and report.
    fake_clock.advance(FIRST_BACKOFF)
    await new.wait_started(1)
    assert (new.started[0].work_id, new.started[0].attempt) == (work_id, 2)
    assert await new.report_success(work_id, 2, "retried") is True
    finished = await workpool_client.status(work_id)
    assert finished.state is WorkState.FINISHED
    assert finished.result is not None
    assert finished.result.return_value == "retried"


async def test_sdk_worker_fails_too_deep_return_value_alone(workpool_client, target):
    """A handler's value nested past the limit fails its own item; the worker
    keeps its stream and runs the next item."""
    await workpool_client.create_pool("nesting")
    worker = workpool.Worker(target, pools=["nesting"], capacity=2)

    @worker.handler("deep")
    async def deep(context, args):
        value: list = []
        for _ in range(60):
            value = [value]
        return value

    @worker.handler("shallow")
    async def shallow(context, args):
        return [[1]]

    deep_id = await workpool_client.enqueue("nesting", "deep")
    shallow_id = await workpool_client.enqueue("nesting", "shallow")
    task = asyncio.create_task(worker.run_async())
    try:

        async def both_finished() -> bool:
            statuses = await workpool_client.status_batch([deep_id, shallow_id])
            return all(s.state is WorkState.FINISHED for s in statuses)

        await eventually(both_finished, message="both items to finish")
    finally:
        await worker.stop()
        await task

    deep_status, shallow_status = await workpool_client.status_batch(
        [deep_id, shallow_id]
    )
    assert deep_status.result.kind is ResultKind.FAILURE
    assert "deeper than 32 levels" in deep_status.result.error
    assert deep_status.previous_attempts == 1
    assert shallow_status.result.return_value == [[1]]


async def test_results_before_bad_message_kept(workpool_client, protocol_workers):
    await workpool_client.create_pool("jobs")
    worker = await protocol_workers(["jobs"], ["job"], capacity=4)
    work_ids = [await workpool_client.enqueue("jobs", "job") for _ in range(4)]
    await worker.wait_started(4)

    # The server decodes messages ahead of their commits, so the bad message
    # arrives while earlier results are still unwritten.
    for started in worker.started:
        result = worker_service_pb2.AttemptResult(
            work_id=started.work_id, attempt=started.attempt
        )
        result.success.return_value.CopyFrom(workpool.to_value(started.work_id))
        worker.send(
            worker_service_pb2.WorkRequest(
                results=[result], credit=worker_service_pb2.Credit(count=1)
            )
        )
    worker.send(
        worker_service_pb2.WorkRequest(credit=worker_service_pb2.Credit(count=-1))
    )

    assert await worker._call.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "credit.count" in await worker._call.details()
    for work_id in work_ids:
        status = await workpool_client.status(work_id)
        assert status.state is WorkState.FINISHED
        assert status.result is not None
        assert status.result.return_value == work_id


@pytest.mark.parametrize(
    ("bad_part", "field"),
    [
        ({"credit": worker_service_pb2.Credit(count=-1)}, "credit.count"),
        (
            {"heartbeat": worker_service_pb2.Heartbeat(work_ids=["not-an-id"])},
            "heartbeat.work_ids[0]",
        ),
    ],
    ids=["credit", "heartbeat"],
)
async def test_result_beside_bad_field_kept(
    workpool_client, protocol_workers, bad_part, field
):
    await workpool_client.create_pool("jobs")
    worker = await protocol_workers(["jobs"], ["job"])
    work_id = await workpool_client.enqueue("jobs", "job")
    await worker.wait_started(1)

    result = worker_service_pb2.AttemptResult(work_id=work_id, attempt=1)
    result.success.return_value.CopyFrom(workpool.to_value("kept"))
    worker.send(worker_service_pb2.WorkRequest(results=[result], **bad_part))

    assert await worker._call.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert field in await worker._call.details()
    status = await workpool_client.status(work_id)
    assert status.state is WorkState.FINISHED
    assert status.result is not None
    assert status.result.return_value == "kept"


async def test_heartbeat_with_many_ids_renews_lease(
    workpool_client, protocol_workers, fake_clock
):
    await create_retrying_pool(workpool_client)
    worker = await protocol_workers(["jobs"], ["job"])
    work_id = await workpool_client.enqueue("jobs", "job")
    await worker.wait_started(1)

    # More ids than one IN list takes, so the renewal runs in several parts.
    others = [f"wk_01JD9V6GQ8M3T6Y4D3W{index:07d}" for index in range(1_200)]
    fake_clock.advance(timedelta(seconds=4))
    await worker.heartbeat([*others, work_id, work_id])

    # The lease now ends 5 s after the heartbeat, not at 5 s.
    fake_clock.advance(timedelta(seconds=2))
    await asyncio.sleep(0.2)
    status = await workpool_client.status(work_id)
    assert status.state is WorkState.RUNNING
    assert not worker.cancels_for(LEASE_LOST, work_id)


async def test_heartbeat_past_capacity_limit_rejected(
    workpool_client, protocol_workers
):
    await workpool_client.create_pool("jobs")
    worker = await protocol_workers(["jobs"], ["job"])
    ids = [f"wk_01JD9V6GQ8M3T6Y4D3W{index:07d}" for index in range(10_001)]

    worker.send(
        worker_service_pb2.WorkRequest(
            heartbeat=worker_service_pb2.Heartbeat(work_ids=ids)
        )
    )

    assert await worker._call.code() is grpc.StatusCode.INVALID_ARGUMENT
    details = await worker._call.details()
    assert "heartbeat.work_ids" in details
    assert "10000" in details
