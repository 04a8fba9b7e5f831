"""Explain: one test per reason a work item is not running."""

from __future__ import annotations

from datetime import timedelta

import grpc
import pytest

from tests.conftest import eventually
from workpool import NotFoundError, RetryPolicy, WaitReason
from workpool.v1 import workpool_service_pb2
from workpool_server.engine.explain import explain
from workpool_server.engine.model import Lane, WorkState, WorkStatusView
from workpool_server.engine.model import WaitReason as ModelWaitReason
from workpool_server.engine.sessions import WorkerSession
from workpool_server.store.queries import WaitFacts


@pytest.fixture
async def pool(workpool_client) -> str:
    await workpool_client.create_pool("why", max_parallelism=1)
    return "why"


async def _reason(client, work_id: str, expected: WaitReason):
    async def matches() -> bool:
        return (await client.explain(work_id)).reason is expected

    await eventually(matches, message=f"reason {expected}")
    return await client.explain(work_id)


async def test_explain_no_worker(workpool_client, pool):
    work_id = await workpool_client.enqueue(pool, "lonely")

    explanation = await _reason(workpool_client, work_id, WaitReason.NO_WORKER)

    assert "'lonely'" in explanation.detail
    assert explanation.status.work_id == work_id


async def test_explain_paused_pool(workpool_client, pool):
    await workpool_client.update_pool(pool, max_parallelism=0)
    work_id = await workpool_client.enqueue(pool, "job")

    explanation = await _reason(workpool_client, work_id, WaitReason.POOL_PAUSED)

    assert "paused" in explanation.detail


async def test_explain_scheduled(workpool_client, pool, fake_clock):
    work_id = await workpool_client.enqueue(pool, "job", run_after=timedelta(minutes=5))

    explanation = await _reason(workpool_client, work_id, WaitReason.SCHEDULED)

    assert explanation.until == explanation.status.ready_at
    assert explanation.until is not None


async def test_explain_running_then_at_limit(workpool_client, pool, scripted_workers):
    worker = await scripted_workers([pool], ["job"], capacity=2)
    first = await workpool_client.enqueue(pool, "job")
    await eventually(lambda: len(worker.started) == 1)
    second = await workpool_client.enqueue(pool, "job")

    running = await _reason(workpool_client, first, WaitReason.RUNNING)
    waiting = await _reason(workpool_client, second, WaitReason.POOL_AT_LIMIT)

    assert running.worker_id.startswith("ws_")
    assert running.since is not None
    assert waiting.running_work_ids == (first,)


async def test_explain_workers_busy(workpool_client, scripted_workers):
    await workpool_client.create_pool("busy", max_parallelism=5)
    worker = await scripted_workers(["busy"], ["job"], capacity=1)
    first = await workpool_client.enqueue("busy", "job")
    await eventually(lambda: len(worker.started) == 1)
    second = await workpool_client.enqueue("busy", "job")

    explanation = await _reason(workpool_client, second, WaitReason.WORKERS_BUSY)

    assert first != second
    assert "none has a free slot" in explanation.detail


async def test_explain_backing_off(workpool_client, pool, scripted_workers):
    worker = await scripted_workers([pool], ["job"], capacity=1)
    work_id = await workpool_client.enqueue(
        pool,
        "job",
        retry=RetryPolicy(max_attempts=3, initial_backoff=timedelta(seconds=30)),
    )
    await eventually(lambda: len(worker.started) == 1)
    await worker.fail(work_id, "flaky")

    explanation = await _reason(workpool_client, work_id, WaitReason.BACKING_OFF)

    assert "flaky" in explanation.detail
    assert explanation.status.previous_attempts == 1
    assert explanation.until is not None


def test_explain_queued_counts_items_ahead():
    """A ready item whose pool has room and whose worker has a free slot is
    only waiting for its turn; the dispatch loop leaves that state within
    one pass, so the rule is checked on the pure function."""
    status = WorkStatusView(
        work_id="wk_01JD9V6GQ8M3T6Y4D3W0Y5B7ZC",
        pool="line",
        function="job",
        state=WorkState.PENDING,
        previous_attempts=0,
        enqueued_at_us=0,
        ready_at_us=0,
        finished_at_us=None,
        result=None,
        last_error="",
    )
    facts = WaitFacts(
        status=status,
        lane=Lane.NORMAL,
        lease_owner=None,
        started_at_us=None,
        ready_at_us=0,
        max_parallelism=4,
        running_ids=[],
        running_count=1,
        ahead_count=2,
    )
    session = WorkerSession(
        name="w", pools=frozenset({"line"}), functions=frozenset({"job"}), capacity=1
    )

    explanation = explain(facts, now_us=10, sessions=[session])

    assert explanation.reason is ModelWaitReason.QUEUED
    assert explanation.ahead_count == 2


async def test_explain_finished(workpool_client, pool, scripted_workers):
    worker = await scripted_workers([pool], ["job"], capacity=1)
    work_id = await workpool_client.enqueue(pool, "job")
    await eventually(lambda: len(worker.started) == 1)
    await worker.succeed(work_id)

    explanation = await _reason(workpool_client, work_id, WaitReason.FINISHED)

    assert "success" in explanation.detail


async def test_explain_unknown_and_malformed_ids(workpool_client, stubs):
    with pytest.raises(NotFoundError):
        await workpool_client.explain("wk_01JD9V6GQ8M3T6Y4D3W0Y5B7ZC")

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stubs.workpool.Explain(
            workpool_service_pb2.ExplainRequest(work_id="nope")
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
