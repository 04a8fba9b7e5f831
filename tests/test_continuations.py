"""Continuations: a handler ends an attempt by asking to run again with new
args, with a fresh retry budget and the count in status and completion."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import workpool
from tests.conftest import eventually, logged_completions
from workpool import AttemptOutcome, Continue, RetryPolicy, WorkState, to_value
from workpool.v1 import worker_service_pb2


async def _continue(worker, work_id: str, args) -> None:
    """Report a continuation for a held attempt and wait for its ack."""
    started = worker.running.pop(work_id)
    result = worker_service_pb2.AttemptResult(work_id=work_id, attempt=started.attempt)
    result.continuation.args.CopyFrom(to_value(args))
    worker.send(
        worker_service_pb2.WorkRequest(
            results=[result], credit=worker_service_pb2.Credit(count=1)
        )
    )
    key = (work_id, started.attempt)
    await eventually(lambda: key in worker.acks, message=f"ack of {key}")


async def test_continuation_gets_fresh_budget(workpool_client, protocol_workers, stubs):
    """With max_attempts 2, fail, continue, fail, succeed: the continuation
    resets the budget, so the second failure is retried too."""
    await workpool_client.create_pool("steps")
    worker = await protocol_workers(["steps"], ["work"], capacity=2)
    retry = RetryPolicy(max_attempts=2, initial_backoff=timedelta(0))
    work_id = await workpool_client.enqueue("steps", "work", {"step": 1}, retry=retry)

    await worker.wait_started(1)
    await worker.fail(work_id, "step 1 fails once")
    await worker.wait_started(2)
    await _continue(worker, work_id, {"step": 2})
    status = await workpool_client.status(work_id)
    assert status.continuations == 1
    assert status.previous_attempts == 2

    await worker.wait_started(3)
    assert worker.started[2].args == {"step": 2}
    await worker.fail(work_id, "step 2 fails once")
    await worker.wait_started(4)
    assert worker.started[3].args == {"step": 2}
    await worker.succeed(work_id, "done")

    status = await workpool_client.status(work_id)
    assert status.state is WorkState.FINISHED
    assert status.result.succeeded
    assert status.previous_attempts == 4
    assert status.continuations == 1
    completion = (await logged_completions(stubs.workpool))[-1]
    assert completion.work_id == work_id
    assert completion.attempts == 4
    assert completion.continuations == 1
    history = await workpool_client.status(work_id, include_attempts=True)
    assert [attempt.outcome for attempt in history.attempts] == [
        AttemptOutcome.FAILURE,
        AttemptOutcome.CONTINUED,
        AttemptOutcome.FAILURE,
        AttemptOutcome.SUCCESS,
    ]


async def test_continuation_after_cancel_cancels(workpool_client, protocol_workers):
    await workpool_client.create_pool("steps")
    worker = await protocol_workers(["steps"], ["work"])
    work_id = await workpool_client.enqueue("steps", "work", {"step": 1})
    await worker.wait_started(1)
    await workpool_client.cancel(work_id)

    await _continue(worker, work_id, {"step": 2})
    status = await workpool_client.status(work_id)
    assert status.state is WorkState.FINISHED
    assert status.result.canceled
    assert len(worker.started) == 1


async def test_sdk_handler_returns_continue(workpool_client, target):
    await workpool_client.create_pool("steps")
    worker = workpool.Worker(target, pools=["steps"], capacity=1)
    seen: list[int] = []

    @worker.handler("count")
    async def count(context, args):
        seen.append(args["n"])
        if args["n"] < 3:
            return Continue({"n": args["n"] + 1})
        return {"total": args["n"]}

    task = asyncio.create_task(worker.run_async())
    work_id = await workpool_client.enqueue("steps", "count", {"n": 0})
    await eventually(
        lambda: len(seen) == 4, message="four runs of the handler", timeout=20
    )

    async def finished() -> bool:
        status = await workpool_client.status(work_id)
        return status.state is WorkState.FINISHED

    await eventually(finished, message="the item to finish")
    status = await workpool_client.status(work_id)
    assert seen == [0, 1, 2, 3]
    assert status.result.return_value == {"total": 3}
    assert status.continuations == 3
    await worker.stop(grace=timedelta(0))
    await task


async def test_continuation_args_must_be_json(workpool_client, target):
    await workpool_client.create_pool("steps")
    worker = workpool.Worker(target, pools=["steps"], capacity=1)

    @worker.handler("bad")
    async def bad(context, args):
        return Continue({"when": object()})

    task = asyncio.create_task(worker.run_async())
    work_id = await workpool_client.enqueue("steps", "bad", retry=True)

    async def finished() -> bool:
        status = await workpool_client.status(work_id)
        return status.state is WorkState.FINISHED

    await eventually(finished, message="the item to finish")
    status = await workpool_client.status(work_id)
    assert status.result.failed
    assert status.result.non_retryable
    assert "Continue.args" in status.result.error
    await worker.stop(grace=timedelta(0))
    await task


async def test_continued_item_waits_while_paused(workpool_client, protocol_workers):
    await workpool_client.create_pool("steps")
    worker = await protocol_workers(["steps"], ["work"])
    work_id = await workpool_client.enqueue("steps", "work", {"step": 1})
    await worker.wait_started(1)
    await workpool_client.update_pool("steps", max_parallelism=0)

    await _continue(worker, work_id, {"step": 2})
    explanation = await workpool_client.explain(work_id)
    assert explanation.reason is workpool.WaitReason.POOL_PAUSED
    assert explanation.status.continuations == 1
    await workpool_client.update_pool("steps", max_parallelism=1)
    await worker.wait_started(2)
    assert worker.started[1].args == {"step": 2}
