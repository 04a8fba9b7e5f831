"""Three server replicas on one PostgreSQL database, as separate processes."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from datetime import timedelta

import grpc
import psycopg
import pytest

import workpool
from tests.conftest import ScriptedWorker, ServeProcess, eventually
from tests.postgres import PostgresCluster
from workpool.v1 import worker_service_pb2_grpc

pytestmark = pytest.mark.skipif(
    not PostgresCluster.available(), reason="PostgreSQL is not installed"
)

REPLICAS = 3


async def _start_replicas(spawn_server, url: str, count: int = REPLICAS):
    replicas = [spawn_server("--database-url", url) for _ in range(count)]
    for replica in replicas:
        await replica.wait_ready()
    return replicas


def _targets(replicas: list[ServeProcess], first: int) -> str:
    """Return a target listing every replica, `first` first.

    gRPC's default pick_first policy connects to the first address that
    answers, so a worker moves to the next replica when its own one dies.
    """
    ordered = replicas[first:] + replicas[:first]
    return "ipv4:" + ",".join(f"127.0.0.1:{replica.port}" for replica in ordered)


def _running_in_database(url: str, pool: str) -> int:
    with psycopg.connect(url) as connection:
        return connection.execute(
            "SELECT count(*) FROM work WHERE pool = %s AND state = 2 AND lane = 1",
            (pool,),
        ).fetchone()[0]


def _completions_per_item(url: str) -> Counter:
    with psycopg.connect(url) as connection:
        rows = connection.execute("SELECT work_id FROM completions").fetchall()
    return Counter(work_id for (work_id,) in rows)


def _follow_up_items(url: str) -> int:
    with psycopg.connect(url) as connection:
        return connection.execute(
            "SELECT count(*) FROM work WHERE lane = 0"
        ).fetchone()[0]


def _sequences(url: str) -> list[int]:
    with psycopg.connect(url) as connection:
        rows = connection.execute(
            "SELECT sequence FROM completions ORDER BY sequence"
        ).fetchall()
    return [sequence for (sequence,) in rows]


@pytest.fixture
def database_url(postgres_cluster) -> str:
    return postgres_cluster.ensure_started().create_database()


class ConcurrencyProbe:
    """Count handlers running at once across every worker of the test, in
    total and per concurrency key."""

    def __init__(self) -> None:
        self.current = 0
        self.peak = 0
        self.current_by_key: Counter = Counter()
        self.peak_by_key: Counter = Counter()

    def enter(self, key: str | None = None) -> None:
        self.current += 1
        self.peak = max(self.peak, self.current)
        if key is not None:
            self.current_by_key[key] += 1
            self.peak_by_key[key] = max(self.peak_by_key[key], self.current_by_key[key])

    def leave(self, key: str | None = None) -> None:
        self.current -= 1
        if key is not None:
            self.current_by_key[key] -= 1


KEYS = 4


def _mixed_item(index: int) -> workpool.WorkItem:
    """Item `index` of the mixed load: every fifth has no key, the others
    spread over KEYS keys, with priorities from -1 to 1."""
    key = None if index % 5 == 0 else f"key-{index % KEYS}"
    return workpool.WorkItem(
        "sleep",
        {"index": index, "key": key},
        concurrency_key=key,
        priority=index % 3 - 1,
    )


def _running_per_key(url: str, pool: str) -> int:
    """Return the largest number of running items that share a key."""
    with psycopg.connect(url) as connection:
        row = connection.execute(
            "SELECT max(running) FROM (SELECT count(*) AS running FROM work "
            "WHERE pool = %s AND state = 2 AND lane = 1 "
            "AND concurrency_key IS NOT NULL GROUP BY concurrency_key) AS keys",
            (pool,),
        ).fetchone()
    return row[0] or 0


def _make_worker(target: str, probe: ConcurrencyProbe, flaky: set[str]):
    worker = workpool.Worker(target, pools=["shared"], capacity=2)

    @worker.handler("sleep")
    async def sleep(context, args):
        probe.enter(args.get("key"))
        try:
            await asyncio.sleep(0.05)
            if args["index"] % 10 == 5 and context.work_id not in flaky:
                flaky.add(context.work_id)
                raise RuntimeError("first attempt of every tenth item fails")
            return args["index"]
        finally:
            probe.leave(args.get("key"))

    return worker


async def test_replicas_hold_parallelism_limit(spawn_server, database_url):
    """300 items of 50 ms, cap 3, 30 workers over three replicas, with
    failures, retries, lease expiries, cancels, priorities and concurrency
    keys at max_per_key 1: the running count never exceeds 3, no key runs
    twice at once, and every item gets exactly one final result."""
    replicas = await _start_replicas(spawn_server, database_url)
    client = workpool.AsyncClient(f"127.0.0.1:{replicas[0].port}")
    await client.create_pool(
        "shared",
        max_parallelism=3,
        max_per_key=1,
        retry_by_default=True,
        default_retry=workpool.RetryPolicy(
            max_attempts=5, initial_backoff=timedelta(milliseconds=10)
        ),
    )

    # A worker that takes two items and never heartbeats: both leases expire.
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{replicas[1].port}")
    hung = await ScriptedWorker(
        worker_service_pb2_grpc.WorkerServiceStub(channel),
        ["shared"],
        ["sleep"],
        capacity=2,
        name="hung",
    ).start()

    ids = await client.enqueue_batch(
        "shared", [workpool.WorkItem("sleep", {"index": i}) for i in range(2)]
    )
    await eventually(lambda: len(hung.started) == 2, message="hung worker's items")

    probe = ConcurrencyProbe()
    flaky: set[str] = set()
    workers = [
        _make_worker(_targets(replicas, index % REPLICAS), probe, flaky)
        for index in range(30)
    ]
    tasks = [asyncio.create_task(worker.run_async()) for worker in workers]
    ids += await client.enqueue_batch(
        "shared", [_mixed_item(index) for index in range(2, 300)]
    )
    samples: list[int] = []
    key_samples: list[int] = []
    for work_id in random.Random(7).sample(ids[150:], 10):
        await client.cancel(work_id)

    async def all_finished() -> bool:
        samples.append(
            await asyncio.to_thread(_running_in_database, database_url, "shared")
        )
        key_samples.append(
            await asyncio.to_thread(_running_per_key, database_url, "shared")
        )
        statuses = await client.status_batch(ids)
        return all(s.state is workpool.WorkState.FINISHED for s in statuses)

    await eventually(all_finished, timeout=90, message="all 300 items to finish")

    assert max(samples) <= 3
    assert probe.peak <= 3
    assert max(key_samples) <= 1
    assert max(probe.peak_by_key.values()) <= 1
    assert set(probe.peak_by_key) == {f"key-{k}" for k in range(KEYS)}
    assert len(hung.started) == 2
    for started in hung.started:
        status = await client.status(started.work_id)
        assert status.previous_attempts >= 2
        assert "lease expired" in (status.last_error or "")
    completions = _completions_per_item(database_url)
    assert all(completions[work_id] == 1 for work_id in ids)
    sequences = _sequences(database_url)
    assert sequences == list(range(1, len(sequences) + 1))
    statuses = await client.status_batch(ids)
    kinds = Counter(status.result.kind for status in statuses)
    assert (
        kinds[workpool.ResultKind.CANCELED] + kinds[workpool.ResultKind.SUCCESS] == 300
    )

    for worker in workers:
        await worker.stop(grace=timedelta(0))
    for task in tasks:
        task.cancel()
    await hung.close()
    await channel.close()
    await client.close()


async def test_killed_replica_loses_nothing(spawn_server, database_url):
    """kill -9 one replica mid-run: every item finishes, one follow-up item is
    created per item, and subscribers on the other replicas see every
    completion. A follow-up runs again only as a new attempt, when the
    replica died before its result was recorded."""
    replicas = await _start_replicas(spawn_server, database_url)
    client = workpool.AsyncClient(f"127.0.0.1:{replicas[1].port}")
    await client.create_pool("shared", max_parallelism=6, retry_by_default=True)

    # Follow-up attempts per original item. A follow-up whose replica dies
    # before its result is recorded runs again as a new attempt, so only
    # attempts above 1 may repeat a run.
    follow_ups: dict[str, list[int]] = {}
    workers = []
    for index in range(6):
        worker = workpool.Worker(
            _targets(replicas, index % REPLICAS), pools=["shared"], capacity=2
        )

        @worker.handler("sleep")
        async def sleep(context, args):
            await asyncio.sleep(0.02)
            return args

        @worker.on_complete("done")
        async def done(context, event):
            follow_ups.setdefault(event.work_id, []).append(context.attempt)

        workers.append(worker)
    tasks = [asyncio.create_task(worker.run_async()) for worker in workers]

    watched: dict[int, list[int]] = {1: [], 2: []}

    async def watch(replica_index: int) -> None:
        async with workpool.AsyncClient(
            f"127.0.0.1:{replicas[replica_index].port}"
        ) as watcher:
            async for completion in watcher.watch_completions(after_sequence=0):
                watched[replica_index].append(completion.sequence)

    watchers = [asyncio.create_task(watch(index)) for index in (1, 2)]
    ids = await client.enqueue_batch(
        "shared",
        [
            workpool.WorkItem(
                "sleep", {"index": i}, on_complete=workpool.OnComplete("done", i)
            )
            for i in range(120)
        ],
    )

    await eventually(lambda: len(follow_ups) >= 20, timeout=30)
    replicas[0].kill()

    async def all_followed_up() -> bool:
        statuses = await client.status_batch(ids)
        finished = all(s.state is workpool.WorkState.FINISHED for s in statuses)
        return finished and len(follow_ups) == len(ids)

    await eventually(all_followed_up, timeout=60, message="items and follow-ups")
    # Follow-ups are items too: 240 completions in all.
    await eventually(lambda: len(watched[1]) >= 240 and len(watched[2]) >= 240)

    assert set(follow_ups) == set(ids)
    for attempts in follow_ups.values():
        assert attempts == list(range(1, len(attempts) + 1))
    assert _follow_up_items(database_url) == 120
    for sequences in watched.values():
        assert sequences == list(range(1, 241))
    assert Counter(_completions_per_item(database_url).values()) == Counter({1: 240})

    for task in watchers:
        task.cancel()
    for worker in workers:
        await worker.stop(grace=timedelta(0))
    for task in tasks:
        task.cancel()
    await client.close()


def _preload_expired(url: str, count: int) -> None:
    """Insert `count` finished items whose status TTL has already passed."""
    with psycopg.connect(url) as connection:
        connection.execute(
            """
            INSERT INTO work (id, pool, function, args, state, lane, ready_at_us,
                enqueued_at_us, attempt, max_attempts, initial_backoff_us,
                backoff_base, cancel_requested, result_kind, finished_at_us,
                expires_at_us)
            SELECT 'wk_0' || lpad(upper(to_hex(n)), 25, '0'), 'old', 'noop',
                '\\x'::bytea, 3, 1, 0, 0, 1, 1, 0, 2, false, 1, 0, 1
            FROM generate_series(1, %s) AS n
            """,
            (count,),
        )


async def test_replicas_sweep_together_without_errors(spawn_server, database_url):
    """Three replicas sweep 200,000 expired items at once while work flows:
    the sweep finishes, no caller sees an error, and the work completes."""
    replicas = await _start_replicas(spawn_server, database_url)
    client = workpool.AsyncClient(f"127.0.0.1:{replicas[0].port}")
    await client.create_pool("live", max_parallelism=4)
    worker = workpool.Worker(_targets(replicas, 2), pools=["live"], capacity=4)

    @worker.handler("noop")
    async def noop(context, args):
        return args

    task = asyncio.create_task(worker.run_async())
    await asyncio.to_thread(_preload_expired, database_url, 200_000)
    # Wake every replica's dispatch loop, which runs the sweep.
    ids = []
    for round_number in range(20):
        ids += await client.enqueue_batch(
            "live", [workpool.WorkItem("noop", {"round": round_number})] * 10
        )

    def expired_left() -> int:
        with psycopg.connect(database_url) as connection:
            return connection.execute(
                "SELECT count(*) FROM work WHERE pool = 'old'"
            ).fetchone()[0]

    async def swept_and_done() -> bool:
        left = await asyncio.to_thread(expired_left)
        statuses = await client.status_batch(ids)
        return left == 0 and all(
            s.state is workpool.WorkState.FINISHED for s in statuses
        )

    await eventually(swept_and_done, timeout=120, message="sweep and work")
    statuses = await client.status_batch(ids)
    assert all(s.result.kind is workpool.ResultKind.SUCCESS for s in statuses)
    for replica in replicas:
        assert "write transaction failed" not in replica.log()
        assert "deadlock" not in replica.log()

    await worker.stop(grace=timedelta(0))
    task.cancel()
    await client.close()
