"""Concurrency keys: at most max_per_key running items per key in a pool."""

from __future__ import annotations

from datetime import timedelta

from workpool import RetryPolicy, WaitReason, WorkItem, WorkState

FIVE_SECONDS_RETRY = RetryPolicy(max_attempts=2, initial_backoff=timedelta(seconds=5))


def started_ids(worker) -> list[str]:
    return [started.work_id for started in worker.started]


async def test_key_limit_skips_busy_key(workpool_client, scripted_workers):
    await workpool_client.create_pool("keyed", max_parallelism=10, max_per_key=1)
    worker = await scripted_workers(["keyed"], ["work"], capacity=10)
    a1 = await workpool_client.enqueue("keyed", "work", concurrency_key="tenant:a")
    a2 = await workpool_client.enqueue("keyed", "work", concurrency_key="tenant:a")
    b1 = await workpool_client.enqueue("keyed", "work", concurrency_key="tenant:b")
    free = await workpool_client.enqueue("keyed", "work")

    await worker.wait_started(3)
    assert started_ids(worker) == [a1, b1, free]
    status = await workpool_client.status(a2)
    assert status.state is WorkState.PENDING
    assert status.concurrency_key == "tenant:a"
    explanation = await workpool_client.explain(a2)
    assert explanation.reason is WaitReason.KEY_AT_LIMIT
    assert explanation.running_work_ids == (a1,)

    # The key's slot frees when its running item finishes.
    await worker.succeed(a1)
    await worker.wait_started(4)
    assert worker.started[3].work_id == a2


async def test_busy_key_backlog_blocks_nothing(workpool_client, scripted_workers):
    """500 ready items of one key ahead of another key's item: both keys run."""
    await workpool_client.create_pool("hot", max_parallelism=10, max_per_key=2)
    items = [WorkItem("work", {"n": i}, concurrency_key="hot") for i in range(500)]
    hot_ids = await workpool_client.enqueue_batch("hot", items)
    cold = await workpool_client.enqueue("hot", "work", concurrency_key="cold")
    worker = await scripted_workers(["hot"], ["work"], capacity=10)

    await worker.wait_started(3)
    assert sorted(started_ids(worker)) == sorted([*hot_ids[:2], cold])
    pool = await workpool_client.get_pool("hot")
    assert pool.stats.running_count == 3


async def test_pool_limit_holds_with_keys(workpool_client, scripted_workers):
    await workpool_client.create_pool("narrow", max_parallelism=2, max_per_key=5)
    worker = await scripted_workers(["narrow"], ["work"], capacity=10)
    ids = [
        await workpool_client.enqueue("narrow", "work", concurrency_key=key)
        for key in ("a", "b", "c")
    ]

    await worker.wait_started(2)
    assert started_ids(worker) == ids[:2]
    explanation = await workpool_client.explain(ids[2])
    assert explanation.reason is WaitReason.POOL_AT_LIMIT
    await worker.succeed(ids[0])
    await worker.wait_started(3)
    assert worker.peak_running == 2


async def test_backoff_and_cancel_free_key(
    workpool_client, scripted_workers, fake_clock
):
    await workpool_client.create_pool("keyed", max_parallelism=10, max_per_key=1)
    worker = await scripted_workers(["keyed"], ["work"], capacity=10)
    first = await workpool_client.enqueue(
        "keyed", "work", concurrency_key="k", retry=FIVE_SECONDS_RETRY
    )
    second = await workpool_client.enqueue("keyed", "work", concurrency_key="k")
    third = await workpool_client.enqueue("keyed", "work", concurrency_key="k")
    await worker.wait_started(1)

    # A pending item of a busy key cancels at once.
    assert (await workpool_client.cancel(second)).value == "canceled"

    # A failed attempt waiting out its backoff occupies no key slot.
    await worker.fail(first, "first attempt fails")
    await worker.wait_started(2)
    assert worker.started[1].work_id == third

    # The retry becomes due while `third` runs with the key, so it waits.
    fake_clock.advance(timedelta(seconds=6))
    explanation = await workpool_client.explain(first)
    assert explanation.reason is WaitReason.KEY_AT_LIMIT
    await worker.succeed(third)
    await worker.wait_started(3)
    assert (worker.started[2].work_id, worker.started[2].attempt) == (first, 2)
    assert worker.peak_running == 1


async def test_paused_pool_holds_keyed_work(workpool_client, scripted_workers):
    await workpool_client.create_pool("paused", max_parallelism=0, max_per_key=1)
    worker = await scripted_workers(["paused"], ["work"], capacity=10)
    ids = [
        await workpool_client.enqueue("paused", "work", concurrency_key=key)
        for key in ("a", "a", "b")
    ]
    explanation = await workpool_client.explain(ids[0])
    assert explanation.reason is WaitReason.POOL_PAUSED

    await workpool_client.update_pool("paused", max_parallelism=5)
    await worker.wait_started(2)
    assert started_ids(worker) == [ids[0], ids[2]]
    explanation = await workpool_client.explain(ids[1])
    assert explanation.reason is WaitReason.KEY_AT_LIMIT
