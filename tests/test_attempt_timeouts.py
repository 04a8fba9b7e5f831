"""Attempt timeouts: the deadline in the assignment, the TIMEOUT cancel, the
timeout failure and its retry."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import workpool
from tests.conftest import ProtocolWorker, eventually, timestamp_micros
from workpool import AttemptOutcome, RetryPolicy, WaitReason, WorkState
from workpool.v1 import worker_service_pb2

TIMEOUT = worker_service_pb2.CANCEL_REASON_TIMEOUT
SECOND = 1_000_000


class DeadlineWorker(ProtocolWorker):
    """A protocol worker that records each assignment's deadline."""

    deadlines: dict[tuple[str, int], int | None]

    def _on_assignment(self, assignment: worker_service_pb2.Assignment) -> None:
        if not hasattr(self, "deadlines"):
            self.deadlines = {}
        deadline = None
        if assignment.HasField("deadline"):
            deadline = timestamp_micros(assignment.deadline)
        self.deadlines[(assignment.work_id, assignment.attempt)] = deadline
        super()._on_assignment(assignment)


async def _start_worker(stubs, pool: str) -> DeadlineWorker:
    return await DeadlineWorker(stubs.worker, [pool], ["work"], capacity=5).start()


async def test_timeout_fails_and_retries(workpool_client, stubs, fake_clock):
    await workpool_client.create_pool(
        "timed", default_attempt_timeout=timedelta(seconds=30)
    )
    worker = await _start_worker(stubs, "timed")
    retry = RetryPolicy(max_attempts=2, initial_backoff=timedelta(seconds=1))
    work_id = await workpool_client.enqueue(
        "timed", "work", retry=retry, attempt_timeout=timedelta(seconds=5)
    )
    await worker.wait_started(1)
    started = worker.started[0]
    assert worker.deadlines[(work_id, 1)] == started.assigned_us + 5 * SECOND

    # 1 ms before the deadline nothing happens; at the deadline the attempt ends.
    fake_clock.advance(timedelta(seconds=5) - timedelta(milliseconds=1))
    probe = await workpool_client.enqueue("timed", "work")
    await worker.wait_started(2)
    assert worker.cancels_for(TIMEOUT, work_id) == []
    fake_clock.advance(timedelta(milliseconds=1))
    await eventually(
        lambda: worker.cancels_for(TIMEOUT, work_id), message="the timeout cancel"
    )
    status = await workpool_client.status(work_id)
    assert status.state is WorkState.PENDING
    assert status.previous_attempts == 1
    assert status.last_error == "attempt timed out after 5s"

    # The retry runs with a deadline of its own, and its timeout is final.
    fake_clock.advance(timedelta(seconds=1))
    await eventually(lambda: (work_id, 2) in worker.deadlines, message="the retry")
    assert worker.deadlines[(work_id, 2)] == fake_clock.now_us() + 5 * SECOND
    fake_clock.advance(timedelta(seconds=5))
    await eventually(
        lambda: len(worker.cancels_for(TIMEOUT, work_id)) == 2,
        message="the second timeout cancel",
    )
    status = await workpool_client.status(work_id, include_attempts=True)
    assert status.state is WorkState.FINISHED
    assert status.result.error == "attempt timed out after 5s"
    assert [attempt.outcome for attempt in status.attempts] == [
        AttemptOutcome.TIMED_OUT,
        AttemptOutcome.TIMED_OUT,
    ]
    await worker.succeed(probe)

    # The pool's default applies to items without their own timeout, and a
    # late result of a timed-out attempt is stale.
    probe_started = worker.started[1]
    assert probe_started.work_id == probe
    assert worker.deadlines[(probe, 1)] == probe_started.assigned_us + 30 * SECOND
    accepted = await worker.report_success(work_id, 2, "late")
    assert accepted is False
    await worker.close()


async def test_cancel_then_timeout_cancels(workpool_client, stubs, fake_clock):
    await workpool_client.create_pool("timed", retry_by_default=True)
    worker = await _start_worker(stubs, "timed")
    work_id = await workpool_client.enqueue(
        "timed", "work", attempt_timeout=timedelta(seconds=2)
    )
    await worker.wait_started(1)
    await workpool_client.cancel(work_id)

    fake_clock.advance(timedelta(seconds=2))
    await eventually(
        lambda: worker.cancels_for(TIMEOUT, work_id), message="the timeout cancel"
    )
    status = await workpool_client.status(work_id)
    assert status.state is WorkState.FINISHED
    assert status.result.canceled
    await worker.close()


async def test_no_timeout_without_setting(workpool_client, stubs, fake_clock):
    await workpool_client.create_pool("untimed")
    worker = await _start_worker(stubs, "untimed")
    work_id = await workpool_client.enqueue("untimed", "work")
    await worker.wait_started(1)
    assert worker.deadlines[(work_id, 1)] is None

    # Heartbeats keep the 30 s lease while the attempt runs for 100 s.
    for _ in range(5):
        fake_clock.advance(timedelta(seconds=20))
        await worker.heartbeat([work_id])
    explanation = await workpool_client.explain(work_id)
    assert explanation.reason is WaitReason.RUNNING
    assert worker.cancels_for(TIMEOUT, work_id) == []
    await worker.close()


async def test_sdk_worker_cancels_timed_out_handler(
    workpool_client, target, fake_clock
):
    await workpool_client.create_pool("timed")
    worker = workpool.Worker(target, pools=["timed"], capacity=2)
    seen: dict[str, object] = {}
    entered = asyncio.Event()

    @worker.handler("work")
    async def wait_for_cancel(context, args):
        seen["deadline"] = context.deadline
        entered.set()
        await context.cancel_requested.wait()
        seen["canceled"] = True
        return "finished after the cancel"

    task = asyncio.create_task(worker.run_async())
    work_id = await workpool_client.enqueue(
        "timed", "work", attempt_timeout=timedelta(seconds=3)
    )
    await asyncio.wait_for(entered.wait(), 10)
    assert seen["deadline"] is not None

    fake_clock.advance(timedelta(seconds=3))
    await eventually(lambda: seen.get("canceled"), message="the handler's cancel")
    status = await workpool_client.status(work_id)
    assert status.state is WorkState.FINISHED
    assert status.result.error == "attempt timed out after 3s"
    await worker.stop(grace=timedelta(0))
    await task


async def test_timeout_fires_while_paused(workpool_client, stubs, fake_clock):
    """Pausing interrupts nothing, but a running attempt still times out, and
    its retry waits for the resume."""
    retry = RetryPolicy(max_attempts=2, initial_backoff=timedelta(0))
    await workpool_client.create_pool(
        "timed", default_attempt_timeout=timedelta(seconds=4)
    )
    worker = await _start_worker(stubs, "timed")
    work_id = await workpool_client.enqueue("timed", "work", retry=retry)
    await worker.wait_started(1)
    await workpool_client.update_pool("timed", max_parallelism=0)

    fake_clock.advance(timedelta(seconds=4))
    await eventually(
        lambda: worker.cancels_for(TIMEOUT, work_id), message="the timeout cancel"
    )
    explanation = await workpool_client.explain(work_id)
    assert explanation.reason is WaitReason.POOL_PAUSED
    await workpool_client.update_pool("timed", max_parallelism=1)
    await worker.wait_started(2)
    assert (worker.started[1].work_id, worker.started[1].attempt) == (work_id, 2)
    await worker.close()
