"""Cancel and CancelAll of queued, delayed, running and backing-off items."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import Counter
from datetime import timedelta

import grpc
import pytest

from tests.conftest import (
    UNISSUED_WORK_ID,
    ProtocolWorker,
    eventually,
    logged_completions,
    succeed_at_once,
)
from workpool import (
    AsyncClient,
    CancelAllResult,
    CancelOutcome,
    OnComplete,
    ResultKind,
    RetryPolicy,
    Worker,
    WorkItem,
    WorkState,
)
from workpool.v1 import (
    worker_service_pb2,
    worker_service_pb2_grpc,
    workpool_service_pb2_grpc,
)
from workpool_server.app import RunningServer

REQUESTED = worker_service_pb2.CANCEL_REASON_REQUESTED
# Races of Cancel against a late failure report. NOTE: 1,000 races took about
# 6 s on a 2-core machine, over the budget of a few seconds per test. 300 take
# under 2 s there and still hit both orders of arrival dozens of times.
RACES = 300


def outcomes_of(entries, work_id: str) -> list[str]:
    """Return the result kinds of the completion-log entries of one item."""
    return [
        entry.result.WhichOneof("outcome")
        for entry in entries
        if entry.work_id == work_id
    ]


@contextlib.asynccontextmanager
async def running(worker: Worker):
    """Run an SDK worker in the background for the duration of the block."""
    task = asyncio.create_task(worker.run_async())
    try:
        yield worker
    finally:
        await worker.stop(grace=timedelta(seconds=1))
        await task


async def assert_canceled(client: AsyncClient, work_id: str, attempts: int) -> None:
    status = await client.status(work_id)
    assert status.state is WorkState.FINISHED
    assert status.previous_attempts == attempts
    assert status.result is not None
    assert status.result.kind is ResultKind.CANCELED


@pytest.mark.parametrize(
    "delay", [None, timedelta(seconds=10)], ids=["queued", "delayed"]
)
async def test_cancel_pending_item_never_runs(
    workpool_client, protocol_workers, stubs, fake_clock, delay
):
    await workpool_client.create_pool("jobs")
    work_id = await workpool_client.enqueue(
        "jobs",
        "job",
        {"n": 1},
        run_after=delay,
        on_complete=OnComplete("job.done", {"tag": "t"}),
    )

    assert await workpool_client.cancel(work_id) is CancelOutcome.CANCELED
    await assert_canceled(workpool_client, work_id, attempts=0)
    assert await workpool_client.cancel(work_id) is CancelOutcome.ALREADY_FINISHED

    worker = await protocol_workers(
        ["jobs"], ["job", "job.done"], capacity=2, respond=succeed_at_once
    )
    await worker.wait_started(1)
    if delay is not None:
        fake_clock.advance(delay)

    # Anything still queued for the item would start before a later one.
    later = await workpool_client.enqueue("jobs", "job", {"n": 2})
    await worker.wait_started(2)
    assert [(started.function, started.args) for started in worker.started] == [
        (
            "job.done",
            {
                "work_id": work_id,
                "context": {"tag": "t"},
                "result": {"kind": "canceled"},
            },
        ),
        ("job", {"n": 2}),
    ]
    assert worker.started[1].work_id == later

    entries = await logged_completions(stubs.workpool)
    assert outcomes_of(entries, work_id) == ["canceled"]
    assert [entry.attempts for entry in entries if entry.work_id == work_id] == [0]


async def test_canceled_delayed_item_survives_restart(make_server, fake_clock):
    first_server = await make_server(clock=fake_clock, database="restart.db")
    async with AsyncClient(f"127.0.0.1:{first_server.port}") as client:
        await client.create_pool("jobs")
        work_id = await client.enqueue(
            "jobs",
            "job",
            run_after=timedelta(seconds=10),
            on_complete=OnComplete("job.done", "ctx"),
        )
        assert await client.cancel(work_id) is CancelOutcome.CANCELED
    await first_server.stop(grace_seconds=0)

    second_server = await make_server(clock=fake_clock, database="restart.db")
    fake_clock.advance(timedelta(seconds=10))
    await check_canceled_after_restart(second_server, work_id)


async def check_canceled_after_restart(server: RunningServer, work_id: str) -> None:
    target = f"127.0.0.1:{server.port}"
    async with (
        AsyncClient(target) as client,
        grpc.aio.insecure_channel(target) as channel,
    ):
        await assert_canceled(client, work_id, attempts=0)
        assert await client.cancel(work_id) is CancelOutcome.ALREADY_FINISHED

        worker = await ProtocolWorker(
            worker_service_pb2_grpc.WorkerServiceStub(channel),
            ["jobs"],
            ["job", "job.done"],
            capacity=2,
            respond=succeed_at_once,
        ).start()
        try:
            later = await client.enqueue("jobs", "job")
            await worker.wait_started(2)
            assert [s.function for s in worker.started] == ["job.done", "job"]
            assert worker.started[0].args["work_id"] == work_id
            assert worker.started[1].work_id == later
        finally:
            await worker.close()

        entries = await logged_completions(
            workpool_service_pb2_grpc.WorkpoolServiceStub(channel)
        )
        assert outcomes_of(entries, work_id) == ["canceled"]


async def test_cancel_running_then_success_keeps_success(
    target, workpool_client, stubs
):
    await workpool_client.create_pool("jobs")
    entered = asyncio.Event()
    worker = Worker(target, pools=["jobs"], capacity=1, name="cooperative")

    @worker.handler("job")
    async def job(context, args):
        entered.set()
        # Returns only once the cancel request reached the worker.
        await context.cancel_requested.wait()
        return {"finished": True}

    async with running(worker):
        work_id = await workpool_client.enqueue("jobs", "job")
        await eventually(entered.is_set, message="handler start")
        assert await workpool_client.cancel(work_id) is CancelOutcome.CANCEL_REQUESTED

        async def finished() -> bool:
            status = await workpool_client.status(work_id)
            return status.state is WorkState.FINISHED

        await eventually(finished, message="item finished")

    status = await workpool_client.status(work_id)
    assert status.previous_attempts == 1
    assert status.result is not None
    assert status.result.kind is ResultKind.SUCCESS
    assert status.result.return_value == {"finished": True}
    entries = await logged_completions(stubs.workpool)
    assert outcomes_of(entries, work_id) == ["success"]


async def test_cancel_running_then_failure_ends_canceled(
    workpool_client, protocol_workers, stubs, fake_clock
):
    await workpool_client.create_pool("jobs", retry_by_default=True)
    worker = await protocol_workers(["jobs"], ["job"])
    work_id = await workpool_client.enqueue("jobs", "job")
    await worker.wait_started(1)

    assert await workpool_client.cancel(work_id) is CancelOutcome.CANCEL_REQUESTED
    await eventually(
        lambda: worker.cancels_for(REQUESTED, work_id), message="cancel request"
    )
    assert [cancel.attempt for cancel in worker.cancels_for(REQUESTED, work_id)] == [1]

    await worker.fail(work_id, "interrupted by the cancel")
    assert worker.acks[(work_id, 1)] is True
    await assert_canceled(workpool_client, work_id, attempts=1)

    # Past the retry backoff, the next item to start is a new one.
    fake_clock.advance(timedelta(seconds=1))
    later = await workpool_client.enqueue("jobs", "job")
    await worker.wait_started(2)
    assert worker.started[1].work_id == later
    entries = await logged_completions(stubs.workpool)
    assert outcomes_of(entries, work_id) == ["canceled"]


async def test_cancel_then_worker_lost_ends_canceled(
    workpool_client, protocol_workers, stubs, fake_clock
):
    await workpool_client.create_pool("jobs", retry_by_default=True)
    doomed = await protocol_workers(["jobs"], ["job"], name="doomed")
    work_id = await workpool_client.enqueue("jobs", "job")
    await doomed.wait_started(1)
    assert await workpool_client.cancel(work_id) is CancelOutcome.CANCEL_REQUESTED
    await eventually(
        lambda: doomed.cancels_for(REQUESTED, work_id), message="cancel request"
    )

    # The worker dies instead of reporting: the lost attempt is the failure
    # that ends the canceled item.
    doomed.drop()

    async def finished() -> bool:
        status = await workpool_client.status(work_id)
        return status.state is WorkState.FINISHED

    await eventually(finished, message="item finished")
    await assert_canceled(workpool_client, work_id, attempts=1)

    fake_clock.advance(timedelta(seconds=1))
    spare = await protocol_workers(["jobs"], ["job"], name="spare")
    later = await workpool_client.enqueue("jobs", "job")
    await spare.wait_started(1)
    assert [started.work_id for started in spare.started] == [later]
    entries = await logged_completions(stubs.workpool)
    assert outcomes_of(entries, work_id) == ["canceled"]


async def test_cancel_racing_late_failure_ends_once(
    workpool_client, protocol_workers, stubs, caplog
):
    caplog.set_level(logging.WARNING, logger="workpool_server")
    await workpool_client.create_pool("race", max_parallelism=50, retry_by_default=True)
    # A stream applies its messages one at a time, so reports spread over
    # several streams reach the server about as fast as the cancels.
    workers = [
        await protocol_workers(
            ["race"],
            ["job", "job.done"],
            capacity=5,
            name=f"racer-{index}",
            respond=lambda started: (
                worker_service_pb2.AttemptSuccess()
                if started.function == "job.done"
                else None
            ),
        )
        for index in range(10)
    ]
    work_ids = await workpool_client.enqueue_batch(
        "race",
        [
            WorkItem("job", {"i": i}, on_complete=OnComplete("job.done", i))
            for i in range(RACES)
        ],
    )

    async def race(worker: ProtocolWorker, work_id: str, offset: float):
        """Send the failure report `offset` seconds after the cancel, or
        before it when `offset` is negative."""
        if offset < 0:
            worker.send_failure(work_id, "late failure")
            await asyncio.sleep(-offset)
            return await workpool_client.cancel(work_id)
        cancel = asyncio.create_task(workpool_client.cancel(work_id))
        await asyncio.sleep(offset)
        worker.send_failure(work_id, "late failure")
        return await cancel

    def held_attempts() -> list[tuple[ProtocolWorker, str]]:
        return [
            (worker, started.work_id)
            for worker in workers
            for started in list(worker.running.values())
            if started.function == "job"
        ]

    offsets = random.Random(20)
    outcomes: Counter[CancelOutcome] = Counter()
    acks: dict[str, bool] = {}
    while len(acks) < RACES:
        await eventually(held_attempts, message=f"attempts to race after {len(acks)}")
        wave = held_attempts()
        results = await asyncio.gather(
            *(race(w, work_id, offsets.uniform(-0.005, 0.005)) for w, work_id in wave)
        )
        outcomes.update(results)
        await eventually(
            lambda wave=wave: all((work_id, 1) in w.acks for w, work_id in wave),
            message="acks of the failure reports",
        )
        acks.update((work_id, w.acks[(work_id, 1)]) for w, work_id in wave)

    # Either the failure came first and the item was backing off, or the
    # cancel came first and the failure ended it. Both orders must occur.
    assert set(outcomes) == {CancelOutcome.CANCELED, CancelOutcome.CANCEL_REQUESTED}
    assert outcomes.total() == RACES
    assert [acks[work_id] for work_id in work_ids] == [True] * RACES

    statuses = await workpool_client.status_batch(work_ids)
    assert [s.state for s in statuses] == [WorkState.FINISHED] * RACES
    assert [s.result.kind for s in statuses if s.result] == [
        ResultKind.CANCELED
    ] * RACES

    def follow_up_args() -> list[dict]:
        return [
            started.args
            for worker in workers
            for started in worker.started
            if started.function == "job.done"
        ]

    await eventually(lambda: len(follow_up_args()) >= RACES, message="follow-ups")
    follow_ups = follow_up_args()
    assert sorted(args["work_id"] for args in follow_ups) == sorted(work_ids)
    assert {args["result"]["kind"] for args in follow_ups} == {"canceled"}

    entries = await logged_completions(stubs.workpool)
    per_item = Counter(entry.work_id for entry in entries)
    assert [per_item[work_id] for work_id in work_ids] == [1] * RACES
    kinds = {entry.result.WhichOneof("outcome") for entry in entries}
    assert kinds == {"canceled", "success"}
    canceled = [
        e.work_id for e in entries if e.result.WhichOneof("outcome") == "canceled"
    ]
    assert sorted(canceled) == sorted(work_ids)
    server_records = [
        record.getMessage()
        for record in caplog.records
        if record.name.startswith("workpool_server")
    ]
    assert server_records == []


async def test_cancel_during_backoff_stops_retries(
    workpool_client, protocol_workers, stubs, fake_clock
):
    await workpool_client.create_pool(
        "jobs",
        max_parallelism=1,
        retry_by_default=True,
        default_retry=RetryPolicy(initial_backoff=timedelta(seconds=5)),
    )
    worker = await protocol_workers(["jobs"], ["job"], capacity=2)
    work_id = await workpool_client.enqueue("jobs", "job")
    await worker.wait_started(1)
    await worker.fail(work_id, "first failure")
    backing_off = await workpool_client.status(work_id)
    assert backing_off.state is WorkState.PENDING
    assert backing_off.previous_attempts == 1

    # The item uses no slot of the pool while it backs off.
    other = await workpool_client.enqueue("jobs", "job")
    await worker.wait_started(2)
    assert worker.started[1].work_id == other

    assert await workpool_client.cancel(work_id) is CancelOutcome.CANCELED
    await assert_canceled(workpool_client, work_id, attempts=1)
    status = await workpool_client.status(work_id)
    assert status.last_error == "first failure"

    await worker.succeed(other)
    fake_clock.advance(timedelta(seconds=5))
    later = await workpool_client.enqueue("jobs", "job")
    await worker.wait_started(3)
    assert worker.started[2].work_id == later
    entries = await logged_completions(stubs.workpool)
    assert outcomes_of(entries, work_id) == ["canceled"]
    assert [entry.attempts for entry in entries if entry.work_id == work_id] == [1]


async def test_cancel_all_spares_later_item(workpool_client, protocol_workers):
    await workpool_client.create_pool("bulk", max_parallelism=2)
    worker = await protocol_workers(["bulk"], ["job"], capacity=2)
    running_ids = [
        await workpool_client.enqueue("bulk", "job", {"i": i}) for i in (0, 1)
    ]
    await worker.wait_started(2)
    queued_ids = await workpool_client.enqueue_batch(
        "bulk", [WorkItem("job", {"i": i}) for i in range(2, 152)]
    )

    result = await workpool_client.cancel_all("bulk")
    assert result == CancelAllResult(canceled_count=150, cancel_requested_count=2)
    later = await workpool_client.enqueue("bulk", "job", {"later": True})

    await eventually(
        lambda: all(worker.cancels_for(REQUESTED, w) for w in running_ids),
        message="cancel requests",
    )
    requested = [
        (c.work_id, c.attempt) for c in worker.cancels if c.reason == REQUESTED
    ]
    assert sorted(requested) == sorted((work_id, 1) for work_id in running_ids)

    queued = await workpool_client.status_batch(queued_ids)
    assert [s.state for s in queued] == [WorkState.FINISHED] * 150
    assert [s.result.kind for s in queued if s.result] == [ResultKind.CANCELED] * 150
    still_running = await workpool_client.status_batch(running_ids)
    assert [s.state for s in still_running] == [WorkState.RUNNING] * 2
    waiting = await workpool_client.status(later)
    assert waiting.state is WorkState.PENDING

    for work_id in running_ids:
        await worker.fail(work_id, "stopped")
    await worker.wait_started(3)
    assert worker.started[2].work_id == later
    for work_id in running_ids:
        await assert_canceled(workpool_client, work_id, attempts=1)
    assert (await workpool_client.status(later)).state is WorkState.RUNNING


async def test_cancel_unknown_item_says_not_found(workpool_client):
    assert await workpool_client.cancel(UNISSUED_WORK_ID) is CancelOutcome.NOT_FOUND
