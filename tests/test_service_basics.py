"""Health checking, server reflection, and times across a daylight-saving change."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

import workpool
from workpool_server.clock import FakeClock

SERVICES = (
    "workpool.v1.WorkpoolService",
    "workpool.v1.WorkerService",
    "workpool.v1.PoolService",
)


async def test_health_reports_every_service(stubs):
    health = health_pb2_grpc.HealthStub(stubs.channel)

    for service in ("", *SERVICES):
        response = await health.Check(health_pb2.HealthCheckRequest(service=service))
        assert response.status == health_pb2.HealthCheckResponse.SERVING, service


async def test_reflection_lists_services(stubs):
    reflection = reflection_pb2_grpc.ServerReflectionStub(stubs.channel)

    async def requests():
        yield reflection_pb2.ServerReflectionRequest(list_services="")

    async for response in reflection.ServerReflectionInfo(requests()):
        names = {service.name for service in response.list_services_response.service}
        break

    for service in SERVICES:
        assert service in names
    assert "grpc.health.v1.Health" in names


async def test_run_at_across_daylight_saving_change(make_server):
    """New York moves its clocks forward at 2:00 on 10 March 2030 (07:00 UTC).
    An item due at 03:30 local time that day is due at 07:30 UTC, half an
    hour after the change, whatever time zone the client or server uses."""
    clock = FakeClock(start=datetime(2030, 3, 10, 6, 50, tzinfo=UTC))
    server = await make_server(clock=clock)

    due = datetime(2030, 3, 10, 3, 30, tzinfo=ZoneInfo("America/New_York"))
    async with workpool.AsyncClient(f"127.0.0.1:{server.port}") as client:
        await client.create_pool("dst")
        work_id = await client.enqueue("dst", "job", run_at=due)
        status = await client.status(work_id)

    assert status.ready_at == datetime(2030, 3, 10, 7, 30, tzinfo=UTC)


async def test_unknown_method_is_unimplemented(stubs):
    call = stubs.channel.unary_unary("/workpool.v1.WorkpoolService/Nope")

    try:
        await call(b"")
    except grpc.aio.AioRpcError as error:
        assert error.code() == grpc.StatusCode.UNIMPLEMENTED
    else:
        raise AssertionError("an unknown method succeeded")
