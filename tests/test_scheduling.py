"""Parallelism caps, start order, pausing and delayed work, with a fake clock."""

from __future__ import annotations

from datetime import timedelta

from tests.conftest import eventually
from workpool import OnComplete, RetryPolicy, WorkItem, WorkState
from workpool_server.clock import MICROS_PER_SECOND, from_micros

FIVE_SECONDS_RETRY = RetryPolicy(max_attempts=2, initial_backoff=timedelta(seconds=5))


async def enqueue_numbered(client, pool: str, count: int, **options) -> list[str]:
    """Enqueue `count` calls of "work" with args {"n": i}, one call at a time."""
    return [
        await client.enqueue(pool, "work", {"n": index}, **options)
        for index in range(count)
    ]


def started_ids(worker, function: str = "work") -> list[str]:
    return [
        started.work_id for started in worker.started if started.function == function
    ]


async def test_cap_holds_with_blocked_handlers(workpool_client, scripted_workers):
    await workpool_client.create_pool("capped", max_parallelism=2)
    worker = await scripted_workers(["capped"], ["work"], capacity=10)
    ids = await enqueue_numbered(workpool_client, "capped", 5)

    await worker.wait_started(2)
    assert started_ids(worker) == ids[:2]
    for work_id in ids[2:]:
        status = await workpool_client.status(work_id)
        assert status.state is WorkState.PENDING
        assert status.previous_attempts == 0
    pool = await workpool_client.get_pool("capped")
    assert pool.stats.running_count == 2
    assert pool.stats.pending_count == 3

    # Each release starts exactly the next item in enqueue order.
    for released in range(3):
        await worker.succeed(ids[released])
        await worker.wait_started(3 + released)
        assert started_ids(worker) == ids[: 3 + released]
    for work_id in ids[3:]:
        await worker.succeed(work_id)

    assert started_ids(worker) == ids
    assert worker.peak_running == 2


async def test_slot_waits_for_recorded_result(
    workpool_client, scripted_workers, server
):
    """A follow-up that is still running takes no slot of the pool."""
    await workpool_client.create_pool("single", max_parallelism=1)
    worker = await scripted_workers(["single"], ["work", "done"], capacity=10)
    done = OnComplete("done", {"tag": "follow-up"})
    first, second, third = await enqueue_numbered(
        workpool_client, "single", 3, on_complete=done
    )

    await worker.wait_started(1)
    pool = await workpool_client.get_pool("single")
    assert pool.stats.running_count == 1
    assert pool.stats.pending_count == 2

    # The recorded result frees the slot: the next item and the follow-up start.
    await worker.succeed(first, {"ok": 1})
    await eventually(lambda: second in worker.running, message="second item start")
    await eventually(
        lambda: len(started_ids(worker, "done")) == 1, message="first follow-up"
    )

    # The follow-up of `first` is still held, yet `third` starts after `second`.
    await worker.succeed(second)
    await eventually(lambda: third in worker.running, message="third item start")
    await eventually(
        lambda: len(started_ids(worker, "done")) == 2, message="second follow-up"
    )
    assert started_ids(worker) == [first, second, third]
    follow_ups = [s for s in worker.started if s.function == "done"]
    assert [s.args["work_id"] for s in follow_ups] == [first, second]
    assert all(s.work_id in worker.running for s in follow_ups)

    # Never more than one "work" attempt held at once.
    for started in worker.started:
        held_work = [i for i in started.held_ids if i in (first, second, third)]
        assert len(held_work) <= 1, started


async def test_pause_holds_work_until_resume(workpool_client, scripted_workers):
    await workpool_client.create_pool("pausable", max_parallelism=1)
    worker = await scripted_workers(["pausable"], ["work", "done"], capacity=10)
    running = await workpool_client.enqueue(
        "pausable", "work", {"n": -1}, on_complete=OnComplete("done")
    )
    await worker.wait_started(1)

    await workpool_client.update_pool("pausable", max_parallelism=0)
    ids = await enqueue_numbered(workpool_client, "pausable", 3)
    assert len(set(ids)) == 3

    # The item running when the pause began finishes and gets its follow-up.
    await worker.succeed(running)
    await worker.wait_started(2)
    assert worker.started[1].function == "done"
    assert worker.started[1].args["work_id"] == running
    await worker.succeed(worker.started[1].work_id)

    # A probe in another pool proves a dispatch pass ran and skipped the paused
    # items.
    await workpool_client.create_pool("probe")
    probe_worker = await scripted_workers(["probe"], ["work"])
    await workpool_client.enqueue("probe", "work")
    await probe_worker.wait_started(1)
    assert len(worker.started) == 2
    for work_id in ids:
        status = await workpool_client.status(work_id)
        assert status.state is WorkState.PENDING
        assert status.previous_attempts == 0

    # The fake clock does not move, so only the update can start them.
    await workpool_client.update_pool("pausable", max_parallelism=3)
    await worker.wait_started(5)
    assert started_ids(worker)[1:] == ids
    assert set(ids) <= set(worker.running)


async def test_lowering_cap_interrupts_nothing(workpool_client, scripted_workers):
    await workpool_client.create_pool("shrinking", max_parallelism=5)
    worker = await scripted_workers(["shrinking"], ["work"], capacity=10)
    ids = await enqueue_numbered(workpool_client, "shrinking", 8)
    await worker.wait_started(5)

    await workpool_client.update_pool("shrinking", max_parallelism=2)
    assert worker.cancels == []
    for work_id in ids[:5]:
        status = await workpool_client.status(work_id)
        assert status.state is WorkState.RUNNING

    # Down to 2 running: still not fewer than the cap, so nothing starts.
    for work_id in ids[:3]:
        await worker.succeed(work_id)
    pool = await workpool_client.get_pool("shrinking")
    assert pool.stats.running_count == 2
    assert len(worker.started) == 5

    # At 1 running, exactly one more starts.
    await worker.succeed(ids[3])
    await worker.wait_started(6)
    assert started_ids(worker) == ids[:6]
    await worker.succeed(ids[4])
    await worker.wait_started(7)
    assert started_ids(worker) == ids[:7]

    assert worker.cancels == []
    # Every start after the change found fewer than 2 items running.
    for started in worker.started[5:]:
        assert len(started.held_ids) <= 2, started


async def test_busy_pool_leaves_slots_for_quiet(workpool_client, scripted_workers):
    """A backlog of 20,000 in one pool does not delay a quiet pool's items."""
    await workpool_client.create_pool("bulk", max_parallelism=20)
    await workpool_client.create_pool("interactive", max_parallelism=2)
    for offset in (0, 10_000):
        items = [WorkItem("work", {"n": offset + i}) for i in range(10_000)]
        await workpool_client.enqueue_batch("bulk", items)
    worker = await scripted_workers(["bulk", "interactive"], ["work"], capacity=20)
    await worker.wait_started(20)
    assert {started.pool for started in worker.started} == {"bulk"}

    # Three rounds: the one slot a bulk result frees goes to the quiet pool.
    for round_number in range(3):
        quick = await workpool_client.enqueue("interactive", "work", {"round": 1})
        bulk_running = next(
            s.work_id for s in worker.running.values() if s.pool == "bulk"
        )
        count = len(worker.started)
        await worker.succeed(bulk_running)
        await worker.wait_started(count + 1)
        assert worker.started[count].work_id == quick, f"round {round_number}"
        await worker.succeed(quick)
        await worker.wait_started(count + 2)
        assert worker.started[count + 1].pool == "bulk"

    pool = await workpool_client.get_pool("bulk")
    assert pool.stats.running_count == 20
    assert pool.stats.pending_count == 20_000 - 20 - 3


async def test_keyed_busy_pool_leaves_slots_for_quiet(
    workpool_client, scripted_workers
):
    """Priorities and keys order work within a pool, not across pools.

    A quiet item of the lowest priority still starts at the next free slot
    while the busy pool has high-priority work of many keys waiting.
    """
    await workpool_client.create_pool("bulk", max_parallelism=20, max_per_key=4)
    await workpool_client.create_pool("interactive", max_parallelism=2)
    items = [
        WorkItem("work", {"n": i}, concurrency_key=f"tenant-{i % 10}", priority=i % 100)
        for i in range(5_000)
    ]
    await workpool_client.enqueue_batch("bulk", items)
    worker = await scripted_workers(["bulk", "interactive"], ["work"], capacity=20)
    await worker.wait_started(20)
    assert {started.pool for started in worker.started} == {"bulk"}

    for round_number in range(3):
        quick = await workpool_client.enqueue(
            "interactive",
            "work",
            {"round": round_number},
            concurrency_key="tenant-0",
            priority=-1_000_000,
        )
        bulk_running = next(
            s.work_id for s in worker.running.values() if s.pool == "bulk"
        )
        count = len(worker.started)
        await worker.succeed(bulk_running)
        await worker.wait_started(count + 1)
        assert worker.started[count].work_id == quick, f"round {round_number}"
        await worker.succeed(quick)
        await worker.wait_started(count + 2)
        assert worker.started[count + 1].pool == "bulk"

    # The first 20 bulk starts are the highest priorities, at most 4 a key.
    first = worker.started[:20]
    assert all(started.args["n"] % 100 >= 90 for started in first)
    per_key: dict[int, int] = {}
    for started in first:
        key = started.args["n"] % 10
        per_key[key] = per_key.get(key, 0) + 1
    assert max(per_key.values()) <= 4


async def test_delayed_item_waits_for_due_time(
    workpool_client, scripted_workers, fake_clock
):
    await workpool_client.create_pool("timed")
    worker = await scripted_workers(["timed"], ["work"], capacity=10)
    enqueued_us = fake_clock.now_us()
    delayed = await workpool_client.enqueue(
        "timed", "work", {"n": "delayed"}, run_after=timedelta(seconds=10)
    )
    immediate = await workpool_client.enqueue("timed", "work", {"n": "now"})
    await worker.wait_started(1)
    assert worker.started[0].work_id == immediate

    status = await workpool_client.status(delayed)
    assert status.state is WorkState.PENDING
    assert status.ready_at == from_micros(enqueued_us + 10 * MICROS_PER_SECOND)

    # 1 ms before the due time, a later ready item starts and the delayed does not.
    fake_clock.advance(timedelta(seconds=10) - timedelta(milliseconds=1))
    probe = await workpool_client.enqueue("timed", "work", {"n": "probe"})
    await worker.wait_started(2)
    assert started_ids(worker) == [immediate, probe]

    fake_clock.advance(timedelta(milliseconds=1))
    await worker.wait_started(3)
    assert worker.started[2].work_id == delayed
    assert worker.started[2].assigned_us == enqueued_us + 10 * MICROS_PER_SECOND


async def test_past_run_at_runs_now(workpool_client, scripted_workers, fake_clock):
    await workpool_client.create_pool("timed")
    worker = await scripted_workers(["timed"], ["work"])
    now = from_micros(fake_clock.now_us())
    past = await workpool_client.enqueue(
        "timed", "work", run_at=now - timedelta(hours=1)
    )

    await worker.wait_started(1)
    assert worker.started[0].work_id == past
    assert worker.started[0].assigned_us == fake_clock.now_us()


async def test_retry_waits_behind_ready_work(
    workpool_client, scripted_workers, fake_clock
):
    await workpool_client.create_pool("ordered", max_parallelism=1)
    worker = await scripted_workers(["ordered"], ["work"], capacity=10)
    a = await workpool_client.enqueue("ordered", "work", {"n": "A"})
    b = await workpool_client.enqueue(
        "ordered", "work", {"n": "B"}, retry=FIVE_SECONDS_RETRY
    )
    c = await workpool_client.enqueue("ordered", "work", {"n": "C"})
    d = await workpool_client.enqueue("ordered", "work", {"n": "D"})
    failed_us = fake_clock.now_us()

    await worker.wait_started(1)
    await worker.succeed(a)
    await worker.wait_started(2)
    await worker.fail(b, "first attempt of B fails")
    status = await workpool_client.status(b)
    assert status.state is WorkState.PENDING
    assert status.previous_attempts == 1
    assert status.ready_at == from_micros(failed_us + 5 * MICROS_PER_SECOND)

    # While B backs off, the ready items take the slot.
    await worker.wait_started(3)
    await worker.succeed(c)
    await worker.wait_started(4)

    # B becomes due while D runs in the only slot, and E becomes ready after B.
    fake_clock.advance(timedelta(seconds=6))
    e = await workpool_client.enqueue("ordered", "work", {"n": "E"})
    await worker.succeed(d)
    await worker.wait_started(5)
    await worker.succeed(b)
    await worker.wait_started(6)

    starts = [(s.work_id, s.attempt) for s in worker.started]
    assert starts == [(a, 1), (b, 1), (c, 1), (d, 1), (b, 2), (e, 1)]
    status = await workpool_client.status(b)
    assert status.state is WorkState.FINISHED
    assert status.previous_attempts == 2
    assert worker.started[4].assigned_us == failed_us + 6 * MICROS_PER_SECOND
