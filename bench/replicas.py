"""Server replicas on one PostgreSQL database, and one measured run on them."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path

import grpc

import workpool
from bench import cpu, scenarios
from bench.processes import ServerProcess


@contextmanager
def running_replicas(
    database_url: str, count: int, folder: Path
) -> Iterator[list[ServerProcess]]:
    """Run ``count`` servers on one database, and stop them on exit or error.

    They start one after another: the first creates the schema, so the
    others start against a migrated database.
    """
    with ExitStack() as stack:
        servers: list[ServerProcess] = []
        for index in range(count):
            server = ServerProcess(database_url, folder / f"replica-{index}.log")
            stack.callback(server.stop)
            server.start()
            servers.append(server)
        yield servers


def worker_targets(servers: list[ServerProcess], workers: int) -> list[str]:
    """Return one target per worker, listing every replica in rotated order.

    gRPC's default pick_first policy connects to the first address that
    accepts, so worker ``i`` lands on replica ``i mod len(servers)``, and the
    workers spread evenly when ``workers`` is a multiple of the replica count.
    """
    targets = []
    for index in range(workers):
        first = index % len(servers)
        ordered = servers[first:] + servers[:first]
        targets.append("ipv4:" + ",".join(server.target for server in ordered))
    return targets


async def measure_throughput_and_cpu(
    client: workpool.AsyncClient,
    channel: grpc.aio.Channel,
    pool: str,
    items: int,
    groups: Mapping[str, cpu.Group],
) -> tuple[float, dict[str, float]]:
    """Run one end-to-end measurement and return items/s and CPU shares in %.

    The CPU window opens just before the completion stream and the first
    enqueue, and closes after the last completion arrived.
    """
    before = cpu.sample(groups)
    started = time.perf_counter()
    rate = await scenarios.end_to_end_throughput(client, channel, pool, items)
    elapsed = time.perf_counter() - started
    after = cpu.sample(groups)
    return rate, cpu.shares(before, after, elapsed)
