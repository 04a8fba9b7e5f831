"""Priorities: higher first within a pool, raised by one per priority_aging."""

from __future__ import annotations

from datetime import timedelta

from workpool import RetryPolicy, WorkState


async def _hold_only_slot(client, worker, pool: str) -> str:
    """Start one item in the pool's only slot and return its id."""
    blocker = await client.enqueue(pool, "work", {"blocker": True})
    await worker.wait_started(1)
    return blocker


async def test_higher_priority_starts_first(workpool_client, scripted_workers):
    await workpool_client.create_pool("ranked", max_parallelism=1)
    worker = await scripted_workers(["ranked"], ["work"], capacity=5)
    blocker = await _hold_only_slot(workpool_client, worker, "ranked")
    low = await workpool_client.enqueue("ranked", "work", priority=-3)
    normal = await workpool_client.enqueue("ranked", "work")
    high = await workpool_client.enqueue("ranked", "work", priority=7)
    status = await workpool_client.status(high)
    assert status.priority == 7

    await worker.succeed(blocker)
    for count, expected in ((2, high), (3, normal), (4, low)):
        await worker.wait_started(count)
        assert worker.started[count - 1].work_id == expected
        await worker.succeed(expected)


async def test_waiting_raises_priority(workpool_client, scripted_workers, fake_clock):
    """An item that waited 10 s at aging 1 s outranks a new item of priority 5,
    and after the aging grows to 1 h, it no longer does."""
    await workpool_client.create_pool("aged", max_parallelism=1)
    worker = await scripted_workers(["aged"], ["work"], capacity=5)
    blocker = await _hold_only_slot(workpool_client, worker, "aged")
    old = await workpool_client.enqueue("aged", "work", {"n": "old"})
    fake_clock.advance(timedelta(seconds=10))
    urgent = await workpool_client.enqueue("aged", "work", priority=5)

    await worker.succeed(blocker)
    await worker.wait_started(2)
    assert worker.started[1].work_id == old

    # Changing the aging re-ranks the items already waiting.
    late = await workpool_client.enqueue("aged", "work", {"n": "late"})
    fake_clock.advance(timedelta(seconds=10))
    pool = await workpool_client.update_pool("aged", priority_aging=timedelta(hours=1))
    assert pool.priority_aging == timedelta(hours=1)
    await worker.succeed(old)
    await worker.wait_started(3)
    assert worker.started[2].work_id == urgent
    await worker.succeed(urgent)
    await worker.wait_started(4)
    assert worker.started[3].work_id == late


async def test_retry_reenters_at_rank(workpool_client, scripted_workers, fake_clock):
    """A retry of a high-priority item goes ahead of lower work that became
    ready before its backoff ended."""
    await workpool_client.create_pool("ranked", max_parallelism=1)
    worker = await scripted_workers(["ranked"], ["work"], capacity=5)
    retry = RetryPolicy(max_attempts=2, initial_backoff=timedelta(seconds=2))
    important = await workpool_client.enqueue(
        "ranked", "work", priority=100, retry=retry
    )
    await worker.wait_started(1)
    await worker.fail(important, "first attempt fails")
    filler = await workpool_client.enqueue("ranked", "work")
    await worker.wait_started(2)
    assert worker.started[1].work_id == filler
    ordinary = await workpool_client.enqueue("ranked", "work")

    fake_clock.advance(timedelta(seconds=3))
    await worker.succeed(filler)
    await worker.wait_started(3)
    assert (worker.started[2].work_id, worker.started[2].attempt) == (important, 2)
    await worker.succeed(important)
    await worker.wait_started(4)
    assert worker.started[3].work_id == ordinary
    status = await workpool_client.status(important)
    assert status.state is WorkState.FINISHED


async def test_canceled_high_priority_skipped(workpool_client, scripted_workers):
    await workpool_client.create_pool("ranked", max_parallelism=1)
    worker = await scripted_workers(["ranked"], ["work"], capacity=5)
    blocker = await _hold_only_slot(workpool_client, worker, "ranked")
    normal = await workpool_client.enqueue("ranked", "work")
    high = await workpool_client.enqueue("ranked", "work", priority=9)
    await workpool_client.cancel(high)

    await worker.succeed(blocker)
    await worker.wait_started(2)
    assert worker.started[1].work_id == normal
    assert len(worker.started) == 2


async def test_resume_starts_by_priority(workpool_client, scripted_workers):
    await workpool_client.create_pool("ranked", max_parallelism=0)
    worker = await scripted_workers(["ranked"], ["work"], capacity=5)
    low = await workpool_client.enqueue("ranked", "work", priority=1)
    high = await workpool_client.enqueue("ranked", "work", priority=2)

    await workpool_client.update_pool("ranked", max_parallelism=1)
    await worker.wait_started(1)
    assert worker.started[0].work_id == high
    await worker.succeed(high)
    await worker.wait_started(2)
    assert worker.started[1].work_id == low
