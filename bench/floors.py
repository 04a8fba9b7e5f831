"""Floors: what bare gRPC and raw SQLite do on this machine in this run.

The gRPC floor talks to ``bench/echo_server.py`` in its own process, with the
Workpool messages. The SQLite floor runs a job table through insert, claim and
complete with the standard library's sqlite3, in WAL mode with
``synchronous = FULL`` like the server's default.
"""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc

from bench.measure import wait_for_port
from demo.services import LOOPBACK, free_port
from workpool.v1 import types_pb2, workpool_service_pb2

ECHO_SCRIPT = Path(__file__).with_name("echo_server.py")
IN_FLIGHT = 64


@contextmanager
def running_echo_server() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(ECHO_SCRIPT), str(port)], start_new_session=True
    )
    try:
        wait_for_port(port, process)
        yield f"{LOOPBACK}:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _spec() -> types_pb2.WorkSpec:
    return types_pb2.WorkSpec(function="bench.noop")


async def grpc_unary(target: str, calls: int) -> float:
    """Return Enqueue-shaped unary calls per second with 64 in flight."""
    pb = workpool_service_pb2
    async with grpc.aio.insecure_channel(target) as channel:
        call = channel.unary_unary(
            "/bench.Echo/Enqueue",
            request_serializer=pb.EnqueueRequest.SerializeToString,
            response_deserializer=pb.EnqueueResponse.FromString,
        )
        request = pb.EnqueueRequest(pool="echo", work=_spec())
        await call(request)

        async def loop(count: int) -> None:
            for _ in range(count):
                await call(request)

        started = time.perf_counter()
        await asyncio.gather(*(loop(calls // IN_FLIGHT) for _ in range(IN_FLIGHT)))
        return calls // IN_FLIGHT * IN_FLIGHT / (time.perf_counter() - started)


async def grpc_batch(target: str, batch_size: int, items: int) -> float:
    """Return items per second of sequential EnqueueBatch-shaped calls."""
    pb = workpool_service_pb2
    async with grpc.aio.insecure_channel(target) as channel:
        call = channel.unary_unary(
            "/bench.Echo/EnqueueBatch",
            request_serializer=pb.EnqueueBatchRequest.SerializeToString,
            response_deserializer=pb.EnqueueBatchResponse.FromString,
        )
        request = pb.EnqueueBatchRequest(
            pool="echo", work=[_spec() for _ in range(batch_size)]
        )
        await call(request)
        batches = max(1, items // batch_size)
        started = time.perf_counter()
        for _ in range(batches):
            await call(request)
        return batches * batch_size / (time.perf_counter() - started)


async def grpc_stream(target: str, messages: int) -> float:
    """Return server-streamed messages per second, one completion each."""
    pb = workpool_service_pb2
    async with grpc.aio.insecure_channel(target) as channel:
        call = channel.unary_stream(
            "/bench.Echo/Stream",
            request_serializer=pb.WatchCompletionsRequest.SerializeToString,
            response_deserializer=pb.WatchCompletionsResponse.FromString,
        )
        started = time.perf_counter()
        received = 0
        async for _ in call(pb.WatchCompletionsRequest(after_sequence=messages)):
            received += 1
        return received / (time.perf_counter() - started)


_SCHEMA = """
CREATE TABLE job (
    id INTEGER PRIMARY KEY,
    function TEXT NOT NULL,
    args BLOB,
    state INTEGER NOT NULL,
    ready_at_us INTEGER NOT NULL,
    lease_expires_us INTEGER,
    result BLOB
);
CREATE INDEX job_ready_idx ON job (state, ready_at_us, id);
"""


def _open(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA synchronous = FULL")
    connection.executescript(_SCHEMA)
    return connection


def sqlite_lifecycle(path: Path, jobs: int, batch: int) -> tuple[float, float]:
    """Run ``jobs`` through insert, claim and complete in transactions of ``batch``.

    Returns jobs per second for the whole life cycle and for the inserts
    alone. Each step of a batch is one ``BEGIN IMMEDIATE`` transaction, as
    the server takes the write lock up front.
    """
    connection = _open(path)
    try:
        insert_seconds = 0.0
        started = time.perf_counter()
        for offset in range(0, jobs, batch):
            count = min(batch, jobs - offset)
            now_us = time.time_ns() // 1_000

            insert_started = time.perf_counter()
            connection.execute("BEGIN IMMEDIATE")
            connection.executemany(
                "INSERT INTO job (function, args, state, ready_at_us) "
                "VALUES ('bench.noop', x'', 0, ?)",
                [(now_us,)] * count,
            )
            connection.execute("COMMIT")
            insert_seconds += time.perf_counter() - insert_started

            connection.execute("BEGIN IMMEDIATE")
            claimed = connection.execute(
                "UPDATE job SET state = 1, lease_expires_us = ? WHERE id IN "
                "(SELECT id FROM job WHERE state = 0 AND ready_at_us <= ? "
                "ORDER BY ready_at_us, id LIMIT ?) RETURNING id",
                (now_us + 30_000_000, now_us, count),
            ).fetchall()
            connection.execute("COMMIT")

            connection.execute("BEGIN IMMEDIATE")
            connection.executemany(
                "UPDATE job SET state = 2, result = x'' WHERE id = ? AND state = 1",
                claimed,
            )
            connection.execute("COMMIT")
        elapsed = time.perf_counter() - started
    finally:
        connection.close()
    return jobs / elapsed, jobs / insert_seconds
