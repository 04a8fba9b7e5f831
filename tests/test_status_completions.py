"""Status through an item's life, status expiry, follow-up args and watches."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import grpc
import pytest

from tests.conftest import UNISSUED_WORK_ID, Started, eventually, succeed_at_once
from workpool import (
    InvalidArgumentError,
    NotFoundError,
    OnComplete,
    ResultKind,
    RetryPolicy,
    WorkItem,
    WorkState,
    WorkStatus,
    to_value,
)
from workpool.v1 import types_pb2, worker_service_pb2, workpool_service_pb2

WATCH_TIMEOUT_SECONDS = 5


def state_of(status: WorkStatus) -> tuple[WorkState, int]:
    return status.state, status.previous_attempts


def watch(stubs, **request) -> grpc.aio.UnaryStreamCall:
    return stubs.workpool.WatchCompletions(
        workpool_service_pb2.WatchCompletionsRequest(**request)
    )


async def read_message(
    call: grpc.aio.UnaryStreamCall,
) -> workpool_service_pb2.WatchCompletionsResponse:
    return await asyncio.wait_for(call.read(), WATCH_TIMEOUT_SECONDS)


async def read_completions(
    call: grpc.aio.UnaryStreamCall, count: int
) -> list[types_pb2.Completion]:
    """Read messages from a watch until `count` completions have arrived."""
    completions: list[types_pb2.Completion] = []
    while len(completions) < count:
        message = await read_message(call)
        completions.extend(message.completions)
    return completions


async def test_status_follows_attempt_lifecycle(
    workpool_client, protocol_workers, fake_clock
):
    await workpool_client.create_pool(
        "jobs",
        retry_by_default=True,
        default_retry=RetryPolicy(initial_backoff=timedelta(seconds=1)),
    )
    work_id = await workpool_client.enqueue("jobs", "job", {"n": 1})
    queued = await workpool_client.status(work_id)
    assert state_of(queued) == (WorkState.PENDING, 0)
    assert queued.result is None
    assert (queued.pool, queued.function) == ("jobs", "job")

    worker = await protocol_workers(["jobs"], ["job"])
    await worker.wait_started(1)
    assert state_of(await workpool_client.status(work_id)) == (WorkState.RUNNING, 0)

    await worker.fail(work_id, "transient")
    backing_off = await workpool_client.status(work_id)
    assert state_of(backing_off) == (WorkState.PENDING, 1)
    assert backing_off.last_error == "transient"

    fake_clock.advance(timedelta(seconds=1))
    await worker.wait_started(2)
    assert state_of(await workpool_client.status(work_id)) == (WorkState.RUNNING, 1)

    await worker.succeed(work_id, {"ok": True})
    finished = await workpool_client.status(work_id)
    assert state_of(finished) == (WorkState.FINISHED, 2)
    assert finished.result is not None
    assert finished.result.kind is ResultKind.SUCCESS
    assert finished.result.return_value == {"ok": True}
    assert finished.finished_at is not None


async def test_status_batch_keeps_request_order(workpool_client, protocol_workers):
    await workpool_client.create_pool("jobs")
    worker = await protocol_workers(["jobs"], ["job"])
    running = await workpool_client.enqueue("jobs", "job")
    await worker.wait_started(1)
    # No worker serves "other", so these items stay pending until canceled.
    pending = await workpool_client.enqueue("jobs", "other")
    finished = await workpool_client.enqueue("jobs", "other")
    await workpool_client.cancel(finished)

    request = [finished, UNISSUED_WORK_ID, running, pending, finished]
    statuses = await workpool_client.status_batch(request)
    assert [(s.work_id, s.state) for s in statuses] == [
        (finished, WorkState.FINISHED),
        (UNISSUED_WORK_ID, WorkState.NOT_FOUND),
        (running, WorkState.RUNNING),
        (pending, WorkState.PENDING),
        (finished, WorkState.FINISHED),
    ]
    assert statuses[0].result is not None
    assert statuses[0].result.kind is ResultKind.CANCELED


async def test_malformed_work_id_invalid_argument(workpool_client):
    with pytest.raises(InvalidArgumentError) as single:
        await workpool_client.status("job-42")
    assert [v.field for v in single.value.field_violations] == ["work_id"]

    with pytest.raises(InvalidArgumentError) as batch:
        await workpool_client.status_batch([UNISSUED_WORK_ID, "wk_short"])
    assert [v.field for v in batch.value.field_violations] == ["work_ids[1]"]


async def test_unknown_work_id_names_status_ttl(workpool_client):
    with pytest.raises(NotFoundError, match="status_ttl") as error:
        await workpool_client.status(UNISSUED_WORK_ID)
    assert UNISSUED_WORK_ID in error.value.details


async def test_status_ttl_sweeps_only_finished_items(
    workpool_client, protocol_workers, fake_clock
):
    await workpool_client.create_pool("short", status_ttl=timedelta(seconds=60))
    await workpool_client.create_pool("forever", keep_status_forever=True)
    worker = await protocol_workers(["short"], ["job"])
    running = await workpool_client.enqueue("short", "job")
    await worker.wait_started(1)
    # No worker serves "other", so these stay pending until canceled.
    short_lived = await workpool_client.enqueue("short", "other")
    kept_forever = await workpool_client.enqueue("forever", "other")
    await workpool_client.cancel(short_lived)
    await workpool_client.cancel(kept_forever)
    pending = await workpool_client.enqueue("short", "other")
    delayed = await workpool_client.enqueue(
        "short", "other", run_after=timedelta(hours=1)
    )

    # Heartbeats keep the running item's 30 s lease while the clock moves.
    for step in (20, 20, 19):
        fake_clock.advance(timedelta(seconds=step))
        await worker.heartbeat([running])
    readable = await workpool_client.status(short_lived)
    assert readable.state is WorkState.FINISHED

    # Only the clock moves: no enqueue, result or worker wakes the server.
    fake_clock.advance(timedelta(seconds=2))

    async def swept(work_id: str) -> bool:
        try:
            await workpool_client.status(work_id)
        except NotFoundError:
            return True
        return False

    await eventually(lambda: swept(short_lived), message="sweep of the expired item")
    statuses = await workpool_client.status_batch(
        [short_lived, kept_forever, pending, delayed, running]
    )
    assert [s.state for s in statuses] == [
        WorkState.NOT_FOUND,
        WorkState.FINISHED,
        WorkState.PENDING,
        WorkState.PENDING,
        WorkState.RUNNING,
    ]

    # A year later the item that finished last is swept, but the "forever"
    # one stays.
    await worker.succeed(running)
    fake_clock.advance(timedelta(days=365))
    await eventually(lambda: swept(running), message="sweep of the item finished last")
    statuses = await workpool_client.status_batch([kept_forever, pending, delayed])
    assert [s.state for s in statuses] == [
        WorkState.FINISHED,
        WorkState.PENDING,
        WorkState.PENDING,
    ]


@pytest.mark.parametrize(
    ("error", "result"),
    [
        (None, {"kind": "success", "return_value": {"size": 500_000}}),
        ("bad input", {"kind": "failure", "error": "bad input"}),
    ],
    ids=["success", "failure"],
)
async def test_follow_up_receives_large_payload_intact(
    workpool_client, protocol_workers, error, result
):
    await workpool_client.create_pool("jobs")
    # 34,000 three-byte characters make 102 KB of UTF-8 context. The characters
    # vary along each string, so a cut or a shift shows.
    context = {"notes": "".join(chr(0x4E00 + i % 2000) for i in range(34_000))}
    args = {
        "blob": "".join(chr(65 + i % 26) for i in range(500_000)),
        "nested": {"list": [1, 2.5, None, True, "é"]},
    }

    def respond(started: Started):
        if started.function == "job.done":
            return worker_service_pb2.AttemptSuccess()
        if error is not None:
            return worker_service_pb2.AttemptFailure(error=error, non_retryable=True)
        return worker_service_pb2.AttemptSuccess(
            return_value=to_value({"size": len(started.args["blob"])})
        )

    worker = await protocol_workers(
        ["jobs"], ["job", "job.done"], capacity=2, respond=respond
    )
    work_id = await workpool_client.enqueue(
        "jobs", "job", args, on_complete=OnComplete("job.done", context)
    )
    await worker.wait_started(2)

    job, follow_up = worker.started
    assert (job.work_id, job.function) == (work_id, "job")
    assert job.args == args
    assert follow_up.function == "job.done"
    assert follow_up.args == {"work_id": work_id, "context": context, "result": result}


async def test_watch_resume_receives_missed_completions(
    workpool_client, protocol_workers, stubs
):
    await workpool_client.create_pool("jobs", max_parallelism=50)
    await protocol_workers(["jobs"], ["job"], capacity=50, respond=succeed_at_once)

    first = watch(stubs, pools=["jobs"], after_sequence=0)
    assert (await read_message(first)).head_sequence == 0
    early = [await workpool_client.enqueue("jobs", "job") for _ in range(3)]
    seen = await read_completions(first, 3)
    assert sorted(c.work_id for c in seen) == sorted(early)
    last_sequence = seen[-1].sequence
    assert last_sequence == 3
    first.cancel()

    missed = await workpool_client.enqueue_batch(
        "jobs", [WorkItem("job", {"i": i}) for i in range(50)]
    )

    async def all_finished() -> bool:
        statuses = await workpool_client.status_batch(missed)
        return all(s.state is WorkState.FINISHED for s in statuses)

    await eventually(all_finished, message="50 items finished")

    resumed = watch(stubs, pools=["jobs"], after_sequence=last_sequence)
    try:
        assert (await read_message(resumed)).head_sequence == 53
        replayed = await read_completions(resumed, 50)
        assert [c.sequence for c in replayed] == list(range(4, 54))
        assert sorted(c.work_id for c in replayed) == sorted(missed)

        # The stream then follows the log live, with nothing repeated.
        after = await workpool_client.enqueue("jobs", "job")
        live = await read_completions(resumed, 1)
        assert [(c.sequence, c.work_id) for c in live] == [(54, after)]
    finally:
        resumed.cancel()


async def test_watch_from_enqueue_sequence_sees_finished(
    stubs, workpool_client, protocol_workers
):
    await workpool_client.create_pool("jobs")
    for _ in range(2):
        await workpool_client.cancel(await workpool_client.enqueue("jobs", "job"))

    response = await stubs.workpool.Enqueue(
        workpool_service_pb2.EnqueueRequest(
            pool="jobs", work=types_pb2.WorkSpec(function="job")
        )
    )
    assert response.completion_sequence == 2
    await protocol_workers(["jobs"], ["job"], respond=succeed_at_once)

    async def finished() -> bool:
        status = await workpool_client.status(response.work_id)
        return status.state is WorkState.FINISHED

    await eventually(finished, message="item finished")

    # The watch starts after the item finished.
    call = watch(stubs, pools=["jobs"], after_sequence=response.completion_sequence)
    try:
        first = await read_message(call)
        assert first.head_sequence == 3
        assert list(first.completions) == []
        completions = await read_completions(call, 1)
        assert [(c.sequence, c.work_id) for c in completions] == [(3, response.work_id)]
        assert completions[0].result.WhichOneof("outcome") == "success"
    finally:
        call.cancel()


async def test_cancelled_watches_release_subscribers(server, stubs, workpool_client):
    await workpool_client.create_pool("jobs")

    def subscribers() -> tuple[float | None, int]:
        gauge = server.metrics.registry.get_sample_value("workpool_watch_subscribers")
        return gauge, server.engine.hub.subscribers

    calls = [watch(stubs, pools=["jobs"]) for _ in range(16)]
    for call in calls:
        await read_message(call)
    assert subscribers() == (16.0, 16)

    # Completions flow to every stream while the clients cancel them.
    stop = asyncio.Event()

    async def finish_items() -> None:
        while not stop.is_set():
            await workpool_client.cancel(await workpool_client.enqueue("jobs", "job"))

    producer = asyncio.create_task(finish_items())
    try:
        for call in calls:
            await read_completions(call, 1)
        for call in calls:
            call.cancel()
        await eventually(
            lambda: subscribers() == (0.0, 0),
            timeout=1.0,
            message="subscriber count back to 0",
        )
    finally:
        stop.set()
        await producer

    await workpool_client.create_pool("after")
    work_id = await workpool_client.enqueue("after", "job")
    assert (await workpool_client.status(work_id)).state is WorkState.PENDING
    pool = await workpool_client.get_pool("after")
    assert pool.stats is not None
    assert pool.stats.pending_count == 1
