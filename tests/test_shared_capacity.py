"""Shared capacity: a pool with a parent borrows the parent's idle slots while
the parent has no ready work of its own."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from datetime import timedelta

import grpc
import pytest

from workpool import (
    AsyncClient,
    CircuitBreaker,
    FailedPreconditionError,
    InvalidArgumentError,
    WaitReason,
)
from workpool.v1 import pool_service_pb2, types_pb2, workpool_service_pb2


async def test_child_borrows_idle_parent_slots(workpool_client, scripted_workers):
    await workpool_client.create_pool("shared", max_parallelism=2)
    await workpool_client.create_pool("tenant", max_parallelism=1, parent="shared")
    worker = await scripted_workers(["shared", "tenant"], ["work"], capacity=10)
    ids = [await workpool_client.enqueue("tenant", "work", {"n": i}) for i in range(4)]

    # One own slot and the parent's two idle slots.
    await worker.wait_started(3)
    assert [s.work_id for s in worker.started] == ids[:3]
    tenant = await workpool_client.get_pool("tenant")
    assert tenant.parent == "shared"
    assert tenant.stats.running_count == 3
    assert tenant.stats.borrowed_count == 2
    shared = await workpool_client.get_pool("shared")
    assert shared.stats.borrowed_count == 0
    explanation = await workpool_client.explain(ids[3])
    assert explanation.reason is WaitReason.POOL_AT_LIMIT

    # The parent's own item waits for its lent slots, then goes first.
    own = await workpool_client.enqueue("shared", "work", {"owner": "shared"})
    explanation = await workpool_client.explain(own)
    assert explanation.reason is WaitReason.POOL_AT_LIMIT
    borrowed = [s.work_id for s in worker.started[1:3]]
    await worker.succeed(borrowed[0])
    await worker.wait_started(4)
    assert worker.started[3].work_id == own
    assert len(worker.started) == 4

    # With the parent's backlog gone, the freed slot is lent again.
    await worker.succeed(own)
    await worker.wait_started(5)
    assert worker.started[4].work_id == ids[3]


async def test_paused_parent_lends_nothing(workpool_client, scripted_workers):
    await workpool_client.create_pool("shared", max_parallelism=0)
    await workpool_client.create_pool("tenant", max_parallelism=1, parent="shared")
    worker = await scripted_workers(["tenant"], ["work"], capacity=10)
    ids = [await workpool_client.enqueue("tenant", "work") for _ in range(3)]
    await worker.wait_started(1)

    explanation = await workpool_client.explain(ids[1])
    assert explanation.reason is WaitReason.POOL_AT_LIMIT
    await workpool_client.update_pool("shared", max_parallelism=1)
    await worker.wait_started(2)
    tenant = await workpool_client.get_pool("tenant")
    assert tenant.stats.borrowed_count == 1

    # A canceled borrowed item gives its slot back to the parent.
    await workpool_client.cancel(worker.started[1].work_id)
    await worker.fail(worker.started[1].work_id, "stopped after the cancel")
    await worker.wait_started(3)
    assert worker.started[2].work_id == ids[2]


async def test_parent_rules_rejected(workpool_client):
    await workpool_client.create_pool("root")
    await workpool_client.create_pool("child", parent="root")

    cases = [
        ("missing", {"parent": "absent"}, "not found"),
        ("chained", {"parent": "child"}, "do not chain"),
        ("itself", {"parent": "self"}, "itself"),
    ]
    for name, settings, message in cases:
        pool_name = "self" if name == "itself" else f"new-{name}"
        with pytest.raises(InvalidArgumentError) as raised:
            await workpool_client.create_pool(pool_name, **settings)
        assert message in str(raised.value), name
        assert raised.value.field_violations[0].field == "pool.parent", name

    # A parent cannot itself take a parent.
    await workpool_client.create_pool("other-root")
    with pytest.raises(InvalidArgumentError, match="parents do not chain"):
        await workpool_client.update_pool("root", parent="other-root")
    with pytest.raises(FailedPreconditionError, match="parent of child"):
        await workpool_client.delete_pool("root")
    await workpool_client.update_pool("child", parent=None)
    await workpool_client.delete_pool("root")


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"max_per_key": -1}, "pool.max_per_key"),
        ({"priority_aging": timedelta(0)}, "pool.priority_aging"),
        ({"priority_aging": timedelta(days=2)}, "pool.priority_aging"),
        ({"default_attempt_timeout": timedelta(0)}, "pool.default_attempt_timeout"),
        (
            {"default_attempt_timeout": timedelta(days=8)},
            "pool.default_attempt_timeout",
        ),
        (
            {"circuit_breaker": CircuitBreaker(failure_rate=0)},
            "pool.circuit_breaker.failure_rate",
        ),
        (
            {"circuit_breaker": CircuitBreaker(failure_rate=1.5)},
            "pool.circuit_breaker.failure_rate",
        ),
        (
            {"circuit_breaker": CircuitBreaker(failure_rate=0.5, min_attempts=-1)},
            "pool.circuit_breaker.min_attempts",
        ),
        (
            {
                "circuit_breaker": CircuitBreaker(
                    failure_rate=0.5, cool_down=timedelta(0)
                )
            },
            "pool.circuit_breaker.cool_down",
        ),
    ],
)
async def test_pool_setting_limits(workpool_client, settings, field):
    with pytest.raises(InvalidArgumentError) as raised:
        await workpool_client.create_pool("checked", **settings)
    assert [v.field for v in raised.value.field_violations] == [field]


async def test_rate_and_spec_limits(workpool_client, stubs):
    """Values sent with raw stubs reach the server's checks."""
    await workpool_client.create_pool("checked")
    for per_second in (0.0, -1.0, float("nan"), float("inf")):
        pool = types_pb2.Pool(
            name="rated", rate_limit=types_pb2.RateLimit(per_second=per_second)
        )
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stubs.pools.CreatePool(pool_service_pb2.CreatePoolRequest(pool=pool))
        assert "pool.rate_limit.per_second" in raised.value.details(), per_second

    specs = [
        (types_pb2.WorkSpec(function="f", priority=1_000_001), "work.priority"),
        (types_pb2.WorkSpec(function="f", priority=-1_000_001), "work.priority"),
        (types_pb2.WorkSpec(function="f", concurrency_key="a b"), "concurrency_key"),
        (types_pb2.WorkSpec(function="f", concurrency_key="k" * 257), "concurrency"),
    ]
    zero = types_pb2.WorkSpec(function="f")
    zero.attempt_timeout.seconds = 0
    specs.append((zero, "work.attempt_timeout"))
    for spec, field in specs:
        request = workpool_service_pb2.EnqueueRequest(pool="checked", work=spec)
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stubs.workpool.Enqueue(request)
        assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert field in raised.value.details(), spec


async def test_dashboard_shows_breaker_and_parent(make_server, fake_clock):
    server = await make_server(clock=fake_clock, http_listen="127.0.0.1:0")
    async with AsyncClient(f"127.0.0.1:{server.port}") as client:
        await client.create_pool("shared")
        await client.create_pool(
            "tenant", parent="shared", circuit_breaker=CircuitBreaker(0.5)
        )
    url = f"http://127.0.0.1:{server.http_port}/api/pools"

    def fetch() -> dict:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310
            return json.loads(response.read())

    pools = {pool["name"]: pool for pool in (await asyncio.to_thread(fetch))["pools"]}
    assert pools["tenant"]["circuit_state"] == "closed"
    assert pools["tenant"]["parent"] == "shared"
    assert pools["tenant"]["borrowed"] == 0
    assert pools["shared"]["circuit_state"] is None


async def test_paused_child_borrows_nothing(workpool_client, scripted_workers):
    await workpool_client.create_pool("shared", max_parallelism=3)
    await workpool_client.create_pool("tenant", max_parallelism=0, parent="shared")
    worker = await scripted_workers(["shared", "tenant"], ["work"], capacity=10)
    paused = await workpool_client.enqueue("tenant", "work")
    probe = await workpool_client.enqueue("shared", "work")

    # The parent's own item proves a dispatch pass ran past the paused child.
    await worker.wait_started(1)
    assert worker.started[0].work_id == probe
    explanation = await workpool_client.explain(paused)
    assert explanation.reason is WaitReason.POOL_PAUSED
