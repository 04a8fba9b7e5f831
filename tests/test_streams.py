"""WatchCompletions under a slow reader, and keepalive settings."""

from __future__ import annotations

import asyncio

import grpc
from google.protobuf import struct_pb2

from tests.conftest import ScriptedWorker, Stubs, eventually
from workpool._channel import DEFAULT_CHANNEL_OPTIONS
from workpool.v1 import (
    pool_service_pb2,
    pool_service_pb2_grpc,
    types_pb2,
    worker_service_pb2,
    worker_service_pb2_grpc,
    workpool_service_pb2,
    workpool_service_pb2_grpc,
)
from workpool_server.app import KEEPALIVE_OPTIONS
from workpool_server.store import queries

ITEMS = 600
BUFFER = 50


async def _read_all(call) -> list[int]:
    sequences: list[int] = []
    while len(sequences) < ITEMS:
        message = await call.read()
        sequences.extend(completion.sequence for completion in message.completions)
    return sequences


def _succeed_with_16_kib(started) -> worker_service_pb2.AttemptSuccess:
    # Results large enough that the slow stream's transport buffers fill up
    # long before the 600th completion.
    return worker_service_pb2.AttemptSuccess(
        return_value=struct_pb2.Value(string_value="x" * 16_384)
    )


async def test_slow_subscriber_served_from_log(make_server, monkeypatch):
    """A subscriber that stops reading while 600 items finish falls behind the
    50 completions kept in memory: a fast subscriber is unaffected, and the
    slow one, once it reads again, receives every completion in order, the
    old ones read back from the database."""
    database_reads = []
    original_read = queries.read_completions

    def counting_read(*args, **kwargs):
        database_reads.append(args[1])
        return original_read(*args, **kwargs)

    monkeypatch.setattr(queries, "read_completions", counting_read)
    server = await make_server(completion_buffer=BUFFER)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{server.port}")
    stubs = Stubs(
        channel,
        workpool_service_pb2_grpc.WorkpoolServiceStub(channel),
        worker_service_pb2_grpc.WorkerServiceStub(channel),
        pool_service_pb2_grpc.PoolServiceStub(channel),
    )
    await stubs.pools.CreatePool(
        pool_service_pb2.CreatePoolRequest(
            pool=types_pb2.Pool(name="fast", max_parallelism=50)
        )
    )
    request = workpool_service_pb2.WatchCompletionsRequest(after_sequence=0)
    slow = stubs.workpool.WatchCompletions(request)
    fast = stubs.workpool.WatchCompletions(request)
    assert (await slow.read()).head_sequence == 0
    assert (await fast.read()).head_sequence == 0

    worker = await ScriptedWorker(
        stubs.worker, ["fast"], ["noop"], capacity=50, respond=_succeed_with_16_kib
    ).start()
    await stubs.workpool.EnqueueBatch(
        workpool_service_pb2.EnqueueBatchRequest(
            pool="fast",
            work=[types_pb2.WorkSpec(function="noop") for _ in range(ITEMS)],
        )
    )

    fast_sequences = await asyncio.wait_for(_read_all(fast), 60)
    assert fast_sequences == list(range(1, ITEMS + 1))
    assert server.engine.hub.head == ITEMS
    assert server.engine.hub.buffered <= BUFFER

    slow_sequences = await asyncio.wait_for(_read_all(slow), 60)
    assert slow_sequences == list(range(1, ITEMS + 1))
    assert database_reads
    await eventually(lambda: server.engine.hub.subscribers == 2)

    slow.cancel()
    fast.cancel()
    await worker.close()
    await channel.close()


def test_sdk_keepalive_within_server_policy():
    """Idle streams survive only if the SDK pings no more often than the
    server permits; otherwise the server ends the connection with GOAWAY."""
    server = dict(KEEPALIVE_OPTIONS)
    client = dict(DEFAULT_CHANNEL_OPTIONS)

    assert server["grpc.keepalive_permit_without_calls"] == 1
    assert client["grpc.keepalive_permit_without_calls"] == 1
    assert (
        client["grpc.keepalive_time_ms"]
        >= server["grpc.http2.min_ping_interval_without_data_ms"]
    )
