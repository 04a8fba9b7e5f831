"""Retry counts, backoff gaps, jitter and policy resolution, on a fake clock."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections import Counter
from datetime import timedelta

import pytest

from tests.conftest import eventually
from workpool import (
    NonRetryableError,
    ResultKind,
    RetryPolicy,
    Worker,
    WorkItem,
    WorkState,
)
from workpool.v1 import worker_service_pb2, workpool_service_pb2
from workpool_server.clock import MICROS_PER_SECOND, datetime_to_micros

SECOND = MICROS_PER_SECOND
FOUR_ATTEMPTS = RetryPolicy(
    max_attempts=4, initial_backoff=timedelta(seconds=1), base=2.0
)


def fail_every_attempt(started):
    return worker_service_pb2.AttemptFailure(error=f"attempt {started.attempt} failed")


def fail_first_attempt(started):
    if started.attempt == 1:
        return worker_service_pb2.AttemptFailure(error="first attempt fails")
    return worker_service_pb2.AttemptSuccess()


async def wait_acked(worker, work_id: str, attempt: int) -> None:
    await eventually(
        lambda: (work_id, attempt) in worker.acks,
        message=f"ack of attempt {attempt} of {work_id}",
    )


async def wait_started_attempt(worker, work_id: str, attempt: int) -> None:
    await eventually(
        lambda: any(
            (s.work_id, s.attempt) == (work_id, attempt) for s in worker.started
        ),
        message=f"start of attempt {attempt} of {work_id}",
    )


async def run_to_the_end(client, worker, fake_clock, work_id: str) -> list[int]:
    """Advance the clock to each retry's due time until the item finishes.

    Return the gaps in microseconds between consecutive attempts' starts.
    """
    attempts_seen = 0
    while True:
        attempts_seen += 1
        await wait_started_attempt(worker, work_id, attempts_seen)
        await wait_acked(worker, work_id, attempts_seen)
        status = await client.status(work_id)
        if status.state is WorkState.FINISHED:
            break
        ready_us = datetime_to_micros(status.ready_at)
        fake_clock.advance(timedelta(microseconds=ready_us - fake_clock.now_us()))

    starts = [s.assigned_us for s in worker.started if s.work_id == work_id]
    return [later - earlier for earlier, later in itertools.pairwise(starts)]


async def read_all_completions(stubs) -> tuple[int, list]:
    """Return the completion log's head and every entry in it."""
    watch = stubs.workpool.WatchCompletions(
        workpool_service_pb2.WatchCompletionsRequest(after_sequence=0)
    )
    head = (await watch.read()).head_sequence
    completions = []
    while len(completions) < head:
        completions.extend((await watch.read()).completions)
    watch.cancel()
    return head, completions


async def test_exact_attempts_and_gaps_without_jitter(
    workpool_client, scripted_workers, fake_clock, stubs
):
    await workpool_client.create_pool("flaky")
    worker = await scripted_workers(
        ["flaky"], ["work", "probe"], respond=fail_every_attempt
    )
    work_id = await workpool_client.enqueue("flaky", "work", retry=FOUR_ATTEMPTS)

    def attempts_started() -> list[int]:
        return [s.attempt for s in worker.started if s.work_id == work_id]

    for attempt, gap_seconds in ((1, 1), (2, 2), (3, 4)):
        await wait_started_attempt(worker, work_id, attempt)
        await wait_acked(worker, work_id, attempt)
        failed_us = fake_clock.now_us()
        status = await workpool_client.status(work_id)
        assert status.state is WorkState.PENDING
        assert status.previous_attempts == attempt
        assert status.last_error == f"attempt {attempt} failed"
        assert datetime_to_micros(status.ready_at) == failed_us + gap_seconds * SECOND

        # 1 ms early, a probe item starts and the retry does not.
        fake_clock.advance(timedelta(seconds=gap_seconds, milliseconds=-1))
        probe = await workpool_client.enqueue("flaky", "probe", retry=False)
        await wait_acked(worker, probe, 1)
        assert attempts_started() == list(range(1, attempt + 1))
        fake_clock.advance(timedelta(milliseconds=1))

    await wait_started_attempt(worker, work_id, 4)
    await wait_acked(worker, work_id, 4)
    starts = [s.assigned_us for s in worker.started if s.work_id == work_id]
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    assert gaps == [1 * SECOND, 2 * SECOND, 4 * SECOND]

    status = await workpool_client.status(work_id)
    assert status.state is WorkState.FINISHED
    assert status.previous_attempts == 4
    assert status.result.kind is ResultKind.FAILURE
    assert status.result.error == "attempt 4 failed"

    # No fifth attempt, however long we wait.
    fake_clock.advance(timedelta(hours=1))
    probe = await workpool_client.enqueue("flaky", "probe", retry=False)
    await wait_acked(worker, probe, 1)
    assert attempts_started() == [1, 2, 3, 4]

    head, completions = await read_all_completions(stubs)
    mine = [c for c in completions if c.work_id == work_id]
    assert len(mine) == 1
    assert mine[0].attempts == 4
    assert mine[0].result.WhichOneof("outcome") == "failure"
    assert mine[0].result.failure.error == "attempt 4 failed"


async def test_jittered_gaps_stay_in_window(
    workpool_client, scripted_workers, fake_clock
):
    # Draws at both ends of [0, 1) and one inside, so the gaps land below,
    # above and below their nominal values.
    draws = itertools.cycle([0.0, 0.999, 0.25])
    fake_clock.set_random_source(lambda: next(draws))
    await workpool_client.create_pool("flaky")
    worker = await scripted_workers(["flaky"], ["work"], respond=fail_every_attempt)
    work_id = await workpool_client.enqueue("flaky", "work", retry=FOUR_ATTEMPTS)

    gaps = await run_to_the_end(workpool_client, worker, fake_clock, work_id)

    assert len(gaps) == 3
    for gap, nominal_seconds in zip(gaps, (1, 2, 4), strict=True):
        nominal = nominal_seconds * SECOND
        assert 0.5 * nominal <= gap < 1.5 * nominal
    assert gaps != [1 * SECOND, 2 * SECOND, 4 * SECOND]
    assert gaps[0] < 1 * SECOND
    assert gaps[1] > 2 * SECOND


@pytest.mark.parametrize(
    ("pool_retries", "retry", "expected_runs"),
    [
        pytest.param(False, None, 1, id="pool-default-off"),
        pytest.param(False, True, 3, id="retry-true-uses-pool-policy"),
        pytest.param(True, None, 3, id="pool-default-on"),
        pytest.param(True, False, 1, id="retry-false-in-retrying-pool"),
        pytest.param(True, RetryPolicy(max_attempts=1), 1, id="one-attempt-policy"),
        pytest.param(False, RetryPolicy(max_attempts=2), 2, id="custom-policy"),
    ],
)
async def test_retry_policy_resolution(
    workpool_client, scripted_workers, fake_clock, pool_retries, retry, expected_runs
):
    await workpool_client.create_pool(
        "policies",
        retry_by_default=pool_retries,
        default_retry=RetryPolicy(max_attempts=3, initial_backoff=timedelta(seconds=1)),
    )
    worker = await scripted_workers(["policies"], ["work"], respond=fail_every_attempt)
    work_id = await workpool_client.enqueue("policies", "work", retry=retry)

    await run_to_the_end(workpool_client, worker, fake_clock, work_id)

    assert [s.attempt for s in worker.started] == list(range(1, expected_runs + 1))
    status = await workpool_client.status(work_id)
    assert status.state is WorkState.FINISHED
    assert status.previous_attempts == expected_runs
    assert status.result.error == f"attempt {expected_runs} failed"


async def test_short_backoff_on_idle_pool(
    workpool_client, scripted_workers, fake_clock
):
    """The clock moves only to the due time, so no periodic tick can start the retry."""
    await workpool_client.create_pool("quick")
    worker = await scripted_workers(["quick"], ["work"], respond=fail_first_attempt)
    policy = RetryPolicy(max_attempts=2, initial_backoff=timedelta(milliseconds=100))
    work_id = await workpool_client.enqueue("quick", "work", retry=policy)
    await worker.wait_started(1)
    await wait_acked(worker, work_id, 1)
    failed_us = fake_clock.now_us()

    fake_clock.advance(timedelta(milliseconds=100))
    await worker.wait_started(2)
    assert worker.started[1].work_id == work_id
    assert worker.started[1].assigned_us == failed_us + 100_000


async def test_short_backoff_on_saturated_pool(
    workpool_client, scripted_workers, fake_clock
):
    """A retry due while the pool is full starts the moment a slot frees."""
    await workpool_client.create_pool("busy", max_parallelism=2)
    worker = await scripted_workers(["busy"], ["work"], capacity=10)
    policy = RetryPolicy(max_attempts=2, initial_backoff=timedelta(milliseconds=100))
    flaky = await workpool_client.enqueue("busy", "work", {"n": 0}, retry=policy)
    steady = await workpool_client.enqueue("busy", "work", {"n": 1})
    await worker.wait_started(2)
    failed_us = fake_clock.now_us()
    await worker.fail(flaky, "first attempt fails")
    filler = await workpool_client.enqueue("busy", "work", {"n": 2})
    await worker.wait_started(3)
    assert worker.started[2].work_id == filler

    # The retry is due, but both slots are taken until `steady` reports.
    fake_clock.advance(timedelta(milliseconds=100))
    await worker.succeed(steady)
    await worker.wait_started(4)
    assert (worker.started[3].work_id, worker.started[3].attempt) == (flaky, 2)
    assert worker.started[3].assigned_us == failed_us + 100_000


async def test_jitter_spreads_retry_storm(
    workpool_client, scripted_workers, fake_clock
):
    """500 items failing at one instant have their retries spread over 5 to 15 s."""
    draws = random.Random(20300101)
    fake_clock.set_random_source(draws.random)
    await workpool_client.create_pool("storm", max_parallelism=500)
    worker = await scripted_workers(
        ["storm"], ["work"], capacity=500, respond=fail_first_attempt
    )
    policy = RetryPolicy(max_attempts=2, initial_backoff=timedelta(seconds=10))
    items = [WorkItem("work", {"n": i}, retry=policy) for i in range(500)]
    ids = await workpool_client.enqueue_batch("storm", items)
    await worker.wait_started(500)
    await eventually(lambda: len(worker.acks) == 500, message="500 failures acked")
    failed_us = fake_clock.now_us()

    statuses = await workpool_client.status_batch(ids)
    offsets = [datetime_to_micros(s.ready_at) - failed_us for s in statuses]
    assert all(5 * SECOND <= offset < 15 * SECOND for offset in offsets)
    per_second = Counter(offset // SECOND for offset in offsets)
    assert sorted(per_second) == list(range(5, 15))
    # Uniform spread puts 50 in each second; a burst would put them in one.
    assert max(per_second.values()) < 100

    # Step the clock to 5 s, then one second at a time to 15 s, waiting after
    # each step for the retries due by then.
    fake_clock.advance(timedelta(seconds=5))
    for second in range(5, 16):
        if second > 5:
            fake_clock.advance(timedelta(seconds=1))
        due = sum(offset <= second * SECOND for offset in offsets)
        await worker.wait_started(500 + due)

    # Each retry started at the first step on or after its due time.
    offset_by_id = dict(zip(ids, offsets, strict=True))
    retries = [s for s in worker.started if s.attempt == 2]
    assert sorted(s.work_id for s in retries) == sorted(ids)
    for retry in retries:
        first_step = -(-offset_by_id[retry.work_id] // SECOND) * SECOND
        assert retry.assigned_us - failed_us == max(first_step, 5 * SECOND)


async def test_non_retryable_error_ends_item(workpool_client, target, stubs):
    await workpool_client.create_pool("payments", retry_by_default=True)
    worker = Worker(target, pools=["payments"], capacity=2, name="payments-worker")
    runs = []

    @worker.handler("charge")
    async def charge(context, args):
        runs.append(context.attempt)
        raise NonRetryableError("card declined")

    running = asyncio.create_task(worker.run_async())
    try:
        work_id = await workpool_client.enqueue(
            "payments", "charge", {"card": "4000"}, retry=RetryPolicy(max_attempts=5)
        )

        async def finished() -> bool:
            status = await workpool_client.status(work_id)
            return status.state is WorkState.FINISHED

        await eventually(finished, message="charge finished")
    finally:
        await worker.stop(grace=timedelta(seconds=1))
        await running

    status = await workpool_client.status(work_id)
    assert runs == [1]
    assert status.previous_attempts == 1
    assert status.result.kind is ResultKind.FAILURE
    assert status.result.error.endswith("card declined")
    assert status.result.non_retryable

    head, completions = await read_all_completions(stubs)
    assert head == 1
    assert completions[0].work_id == work_id
    assert completions[0].attempts == 1
    assert completions[0].result.failure.error.endswith("card declined")
    assert completions[0].result.failure.non_retryable
