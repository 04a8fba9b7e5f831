"""Rate limits: a token bucket per pool, with wake-ups at the next token."""

from __future__ import annotations

from datetime import timedelta

from tests.conftest import succeed_at_once
from workpool import RateLimit, RetryPolicy, WaitReason
from workpool_server.clock import from_micros

SECOND = 1_000_000


async def test_bucket_limits_starts(workpool_client, scripted_workers, fake_clock):
    await workpool_client.create_pool(
        "limited", rate_limit=RateLimit(per_second=2, burst=3)
    )
    worker = await scripted_workers(
        ["limited"], ["work"], capacity=10, respond=succeed_at_once
    )
    start_us = fake_clock.now_us()
    ids = [await workpool_client.enqueue("limited", "work", {"n": i}) for i in range(6)]

    # The full bucket allows a burst of 3; the fourth waits for a token.
    await worker.wait_started(3)
    explanation = await workpool_client.explain(ids[3])
    assert explanation.reason is WaitReason.RATE_LIMITED
    assert explanation.until == from_micros(start_us + SECOND // 2)
    assert len(worker.started) == 3

    # Each token arrives after 0.5 s and wakes the dispatch loop by itself.
    fake_clock.advance(timedelta(milliseconds=499))
    assert len(worker.started) == 3
    fake_clock.advance(timedelta(milliseconds=1))
    await worker.wait_started(4)
    assert worker.started[3].work_id == ids[3]
    fake_clock.advance(timedelta(seconds=1))
    await worker.wait_started(6)
    assert [s.work_id for s in worker.started] == ids
    assert [s.assigned_us - start_us for s in worker.started] == [
        0, 0, 0, SECOND // 2, 3 * SECOND // 2, 3 * SECOND // 2
    ]  # fmt: skip


async def test_rate_limit_update_and_removal(
    workpool_client, scripted_workers, fake_clock
):
    await workpool_client.create_pool(
        "limited", rate_limit=RateLimit(per_second=0.1, burst=1)
    )
    worker = await scripted_workers(
        ["limited"], ["work"], capacity=10, respond=succeed_at_once
    )
    for index in range(3):
        await workpool_client.enqueue("limited", "work", {"n": index})
    await worker.wait_started(1)
    pool = await workpool_client.get_pool("limited")
    assert pool.rate_limit == RateLimit(per_second=0.1, burst=1)

    # Removing the limit starts the waiting items at once.
    pool = await workpool_client.update_pool("limited", rate_limit=None)
    assert pool.rate_limit is None
    await worker.wait_started(3)


async def test_rate_limited_items_cancel(workpool_client, scripted_workers):
    await workpool_client.create_pool(
        "limited", rate_limit=RateLimit(per_second=1, burst=1)
    )
    worker = await scripted_workers(["limited"], ["work"], capacity=10)
    first = await workpool_client.enqueue("limited", "work")
    second = await workpool_client.enqueue("limited", "work")
    await worker.wait_started(1)
    assert worker.started[0].work_id == first

    outcome = await workpool_client.cancel(second)
    assert outcome.value == "canceled"


async def test_retry_takes_token_after_pause(
    workpool_client, scripted_workers, fake_clock
):
    """A retry spends a token like a first attempt, and a paused pool spends
    none, so the bucket is full again at the resume."""
    await workpool_client.create_pool(
        "limited",
        max_parallelism=5,
        rate_limit=RateLimit(per_second=1, burst=2),
    )
    worker = await scripted_workers(["limited"], ["work"], capacity=10)
    retry = RetryPolicy(max_attempts=2, initial_backoff=timedelta(0))
    first = await workpool_client.enqueue("limited", "work", retry=retry)
    second = await workpool_client.enqueue("limited", "work")
    third = await workpool_client.enqueue("limited", "work")
    await worker.wait_started(2)
    await worker.fail(first, "first attempt fails")
    explanation = await workpool_client.explain(first)
    assert explanation.reason is WaitReason.RATE_LIMITED

    await workpool_client.update_pool("limited", max_parallelism=0)
    fake_clock.advance(timedelta(seconds=5))
    assert len(worker.started) == 2
    await workpool_client.update_pool("limited", max_parallelism=5)
    await worker.wait_started(4)
    assert [(s.work_id, s.attempt) for s in worker.started[2:]] == [
        (first, 2),
        (third, 1),
    ]
    await worker.succeed(second)
