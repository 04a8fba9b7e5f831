"""Crash loops: servers killed with SIGKILL again and again while clients
enqueue and workers run items, all in separate processes.

Each round waits a random moment, kills a server process and restarts it on
the same database and port. Afterwards every acknowledged enqueue must have
exactly one final result, one completion-log entry and one follow-up, every
item must finish, and a subscriber that resumed after each break must have
seen every sequence of the log once. The random choices come from one seed,
printed at the start; set WORKPOOL_FAULT_SEED to replay a run.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import os
import random
import signal
import subprocess
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

import workpool
from tests.conftest import ServeProcess, eventually
from tests.faults.actors import FOLLOW_UP_FUNCTION, JOB_FUNCTION
from tests.faults.conftest import spawn_actor
from tests.postgres import PostgresCluster
from tests.test_durability import Subscriber
from workpool_server.store.database import sqlalchemy_url

pytestmark = pytest.mark.faults

ROUNDS = 20
POOL = "crash"
ENQUEUERS = 2
WORKERS = 2
# Seconds a server runs before it is killed: long enough for work to flow,
# short enough that 20 rounds take well under a minute.
UP_SECONDS = (0.2, 1.2)
# Attempts lost to kills are retried, so the policy must outlast every round.
RETRY = workpool.RetryPolicy(
    max_attempts=100,
    initial_backoff=timedelta(milliseconds=50),
    base=1.5,
    max_backoff=timedelta(seconds=1),
)


def fault_seed() -> int:
    """Return the seed from WORKPOOL_FAULT_SEED, or a new one, and print it."""
    seed = int(os.environ.get("WORKPOOL_FAULT_SEED") or random.randrange(2**32))
    print(f"fault seed: WORKPOOL_FAULT_SEED={seed}")
    return seed


def _target(servers: list[ServeProcess]) -> str:
    """Return a target naming every server, so clients fail over between them."""
    return "ipv4:" + ",".join(f"127.0.0.1:{server.port}" for server in servers)


@dataclasses.dataclass
class Actors:
    """Enqueuer and worker processes, with their output files."""

    folder: Path
    enqueuers: list[subprocess.Popen] = dataclasses.field(default_factory=list)
    workers: list[subprocess.Popen] = dataclasses.field(default_factory=list)

    def start(self, target: str, seed: int) -> None:
        for index in range(ENQUEUERS):
            out = self.folder / f"acknowledged-{index}.txt"
            self.enqueuers.append(
                self._spawn(
                    f"enqueuer-{index}",
                    "enqueue",
                    target,
                    POOL,
                    f"key{index}",
                    str(out),
                    str(seed + index),
                )  # fmt: skip
            )
        for index in range(WORKERS):
            self.workers.append(
                self._spawn(
                    f"worker-{index}", "work", target, POOL, str(seed + 100 + index)
                )
            )

    def _spawn(self, name: str, *arguments: str) -> subprocess.Popen:
        return spawn_actor(self.folder, name, *arguments)

    async def stop_enqueuers(self) -> None:
        """Stop the enqueuers once the key each has in flight is acknowledged."""
        for process in self.enqueuers:
            process.send_signal(signal.SIGTERM)
        for process in self.enqueuers:
            await asyncio.to_thread(process.wait, 30)
            assert process.returncode == 0, self.logs()

    def acknowledged(self) -> dict[str, str]:
        """Return the acknowledged enqueues, idempotency key to work id."""
        found: dict[str, str] = {}
        for path in sorted(self.folder.glob("acknowledged-*.txt")):
            for line in path.read_text().splitlines():
                key, work_id = line.split()
                found[key] = work_id
        return found

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}"
            for path in sorted(self.folder.glob("*.log"))
        )

    def kill_all(self) -> None:
        for process in self.enqueuers + self.workers:
            if process.poll() is None:
                process.kill()
                process.wait(10)


def _database_rows(database_url: str) -> tuple[collections.Counter, int, int]:
    """Return completion-log entries per work id and the numbers of item and
    follow-up rows."""
    engine = create_engine(sqlalchemy_url(database_url))
    try:
        with engine.connect() as connection:
            entries = collections.Counter(
                work_id
                for (work_id,) in connection.execute(
                    text("SELECT work_id FROM completions")
                )
            )
            count = "SELECT count(*) FROM work WHERE function = :function"
            items = connection.execute(text(count), {"function": JOB_FUNCTION})
            follow_ups = connection.execute(
                text(count), {"function": FOLLOW_UP_FUNCTION}
            )
            return entries, items.scalar_one(), follow_ups.scalar_one()
    finally:
        engine.dispose()


async def run_crash_loop(
    servers: list[ServeProcess],
    restart: Callable[[ServeProcess], ServeProcess],
    database_url: str,
    folder: Path,
    seed: int,
) -> dict[str, int]:
    """Run ROUNDS kills and restarts under load, check the outcome and return
    the figures."""
    rng = random.Random(seed)
    target = _target(servers)
    async with workpool.AsyncClient(target) as client:
        await client.create_pool(
            POOL, max_parallelism=16, retry_by_default=True, default_retry=RETRY
        )

    subscriber = Subscriber(target, []).start()
    actors = Actors(folder)
    actors.start(target, seed)
    try:
        # Rounds: a random server dies at a random moment and comes back on
        # the same database and port.
        for _ in range(ROUNDS):
            await asyncio.sleep(rng.uniform(*UP_SECONDS))
            victim = rng.randrange(len(servers))
            servers[victim].kill()
            servers[victim] = restart(servers[victim])
            await servers[victim].wait_ready()

        await actors.stop_enqueuers()
        acknowledged = actors.acknowledged()
        work_ids = list(acknowledged.values())

        # Every item and every follow-up finishes after the last restart.
        async with workpool.AsyncClient(target) as client:

            async def all_finished() -> bool:
                statuses = await client.status_batch(work_ids)
                return all(s.state is workpool.WorkState.FINISHED for s in statuses)

            await eventually(all_finished, timeout=90, message="every item finished")
            # Each item and each follow-up adds one log entry when it
            # finishes, so the log is complete at twice the item count.
            # Waiting only for the follow-up rows let the last follow-ups
            # finish after `head` was read.
            await eventually(
                lambda: (
                    sum(_database_rows(database_url)[0].values()) >= 2 * len(work_ids)
                ),
                timeout=60,
                message="a finished follow-up for every item",
            )
            statuses = await client.status_batch(work_ids)

        entries, item_rows, follow_up_rows = _database_rows(database_url)
        head = sum(entries.values())
        await eventually(
            lambda: len(subscriber.completions) >= head,
            timeout=60,
            message=f"the subscriber at sequence {head}",
        )
    except BaseException:
        print(actors.logs())
        raise
    finally:
        actors.kill_all()
        await subscriber.stop()

    logged = {c.work_id: c for c in subscriber.completions}
    follow_ups_per_item = collections.Counter(
        workpool.from_value(c.result.success.return_value)["parent"]
        for c in subscriber.completions
        if c.function == FOLLOW_UP_FUNCTION
    )
    lost = [work_id for work_id in work_ids if work_id not in logged]
    duplicated = [work_id for work_id, count in entries.items() if count > 1]

    assert len(work_ids) > ROUNDS
    assert len(set(work_ids)) == len(work_ids)
    assert lost == []
    assert duplicated == []
    assert item_rows == len(work_ids)
    assert follow_up_rows == len(work_ids)
    assert sorted(follow_ups_per_item) == sorted(work_ids)
    assert set(follow_ups_per_item.values()) == {1}
    for status in statuses:
        assert status.state is workpool.WorkState.FINISHED
        assert status.result is not None
        assert status.result.succeeded
    assert head == 2 * len(work_ids)
    assert subscriber.sequences == list(range(1, head + 1))

    return {
        "seed": seed,
        "rounds_survived": ROUNDS,
        "items_acknowledged": len(work_ids),
        "final_results": sum(1 for s in statuses if s.result is not None),
        "completion_log_entries": head,
        "follow_ups": sum(follow_ups_per_item.values()),
        "lost": len(lost),
        "duplicated": len(duplicated),
        "subscriber_connection_attempts": subscriber.connections,
        "max_attempts_of_an_item": max(c.attempts for c in logged.values()),
    }


@pytest.mark.timeout(300)
async def test_sqlite_server_killed_twenty_times(spawn_server, tmp_path, figures):
    seed = fault_seed()
    server = await spawn_server().wait_ready()

    def restart(dead: ServeProcess) -> ServeProcess:
        return spawn_server(port=dead.port)

    figures(
        await run_crash_loop(
            [server], restart, f"sqlite:///{tmp_path / 'workpool.db'}", tmp_path, seed
        ),
        name="crash_loop_sqlite",
    )


@pytest.mark.skipif(
    not PostgresCluster.available(), reason="PostgreSQL is not installed"
)
@pytest.mark.timeout(300)
async def test_postgresql_replica_killed_twenty_times(
    spawn_server, postgres_cluster, tmp_path, figures
):
    seed = fault_seed()
    database_url = postgres_cluster.ensure_started().create_database()
    replicas = [spawn_server("--database-url", database_url) for _ in range(2)]
    for replica in replicas:
        await replica.wait_ready()

    def restart(dead: ServeProcess) -> ServeProcess:
        return spawn_server("--database-url", database_url, port=dead.port)

    figures(
        await run_crash_loop(replicas, restart, database_url, tmp_path, seed),
        name="crash_loop_postgresql_replicas",
    )
