"""Rejected enqueue, status and cancel requests: status codes and field names.

These tests send raw requests, because the SDK rejects most of these values
before they reach the server.
"""

from __future__ import annotations

import math

import grpc
import pytest
from google.protobuf import duration_pb2, struct_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from workpool.v1 import pool_service_pb2, types_pb2, workpool_service_pb2

# Well formed, but never issued by the server under test.
UNKNOWN_WORK_ID = "wk_01JD9V6GQ8M3T6Y4D3W0Y5B7ZC"
ONE_MEGABYTE = 1024 * 1024


def violated_fields(error: grpc.aio.AioRpcError) -> list[str]:
    """Return the fields named by the BadRequest detail of a failed call."""
    status = rpc_status.from_call(error)
    assert status is not None, "the error carries no google.rpc.Status"
    fields = []
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad_request = error_details_pb2.BadRequest()
            detail.Unpack(bad_request)
            fields.extend(v.field for v in bad_request.field_violations)
    return fields


async def rejected(call) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return caught.value


@pytest.fixture
async def pool(stubs) -> str:
    await stubs.pools.CreatePool(
        pool_service_pb2.CreatePoolRequest(pool=types_pb2.Pool(name="checks"))
    )
    return "checks"


async def pending_count(stubs, pool: str) -> int:
    response = await stubs.pools.GetPool(pool_service_pb2.GetPoolRequest(name=pool))
    return response.stats.pending_count


def policy(**fields) -> types_pb2.WorkSpec:
    return types_pb2.WorkSpec(
        function="work", retry_policy=types_pb2.RetryPolicy(**fields)
    )


def large_value(size: int) -> struct_pb2.Value:
    return struct_pb2.Value(string_value="x" * size)


@pytest.mark.parametrize(
    "name", ["", "bad name", "-leading-dash", "a" * 129, "pool/slash", "naïve"]
)
async def test_bad_pool_name_rejected(stubs, name):
    request = workpool_service_pb2.EnqueueRequest(
        pool=name, work=types_pb2.WorkSpec(function="work")
    )

    error = await rejected(stubs.workpool.Enqueue(request))

    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert violated_fields(error) == ["pool"]


@pytest.mark.parametrize("function", ["", "9starts.with.digit", "has space", "f" * 257])
async def test_bad_function_name_rejected(stubs, pool, function):
    request = workpool_service_pb2.EnqueueRequest(
        pool=pool, work=types_pb2.WorkSpec(function=function)
    )

    error = await rejected(stubs.workpool.Enqueue(request))

    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert violated_fields(error) == ["work.function"]
    assert await pending_count(stubs, pool) == 0


async def test_bad_on_complete_function_rejected(stubs, pool):
    work = types_pb2.WorkSpec(
        function="work", on_complete=types_pb2.OnComplete(function="not valid")
    )
    request = workpool_service_pb2.EnqueueRequest(pool=pool, work=work)

    error = await rejected(stubs.workpool.Enqueue(request))

    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert violated_fields(error) == ["work.on_complete.function"]


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        pytest.param(
            policy(initial_backoff=duration_pb2.Duration(seconds=-1)),
            "work.retry_policy.initial_backoff",
            id="negative-initial-backoff",
        ),
        pytest.param(
            policy(initial_backoff=duration_pb2.Duration(nanos=-1_000)),
            "work.retry_policy.initial_backoff",
            id="negative-sub-second-backoff",
        ),
        pytest.param(
            policy(max_backoff=duration_pb2.Duration(seconds=-5)),
            "work.retry_policy.max_backoff",
            id="negative-max-backoff",
        ),
        pytest.param(policy(base=math.nan), "work.retry_policy.base", id="nan-base"),
        pytest.param(policy(base=0.5), "work.retry_policy.base", id="base-below-1"),
        pytest.param(policy(base=-2.0), "work.retry_policy.base", id="negative-base"),
        pytest.param(
            policy(max_attempts=0), "work.retry_policy.max_attempts", id="zero-attempts"
        ),
        pytest.param(
            policy(max_attempts=-1),
            "work.retry_policy.max_attempts",
            id="negative-attempts",
        ),
    ],
)
async def test_bad_retry_policy_rejected(stubs, pool, spec, field):
    request = workpool_service_pb2.EnqueueRequest(pool=pool, work=spec)

    error = await rejected(stubs.workpool.Enqueue(request))

    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert violated_fields(error) == [field]
    assert await pending_count(stubs, pool) == 0


async def test_boundary_retry_policy_accepted(stubs, pool):
    """One attempt, base 1 and a zero backoff are the smallest valid values."""
    spec = policy(
        max_attempts=1, base=1.0, initial_backoff=duration_pb2.Duration(seconds=0)
    )
    request = workpool_service_pb2.EnqueueRequest(pool=pool, work=spec)

    response = await stubs.workpool.Enqueue(request)

    assert response.work_id.startswith("wk_")
    assert await pending_count(stubs, pool) == 1


async def test_every_bad_policy_field_named(stubs, pool):
    spec = policy(
        max_attempts=0, base=math.nan, initial_backoff=duration_pb2.Duration(seconds=-1)
    )
    request = workpool_service_pb2.EnqueueRequest(pool=pool, work=spec)

    error = await rejected(stubs.workpool.Enqueue(request))

    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert sorted(violated_fields(error)) == [
        "work.retry_policy.base",
        "work.retry_policy.initial_backoff",
        "work.retry_policy.max_attempts",
    ]


async def test_batch_violation_names_item_index(stubs, pool):
    work = [types_pb2.WorkSpec(function="work") for _ in range(3)]
    work.append(policy(max_attempts=0))
    request = workpool_service_pb2.EnqueueBatchRequest(pool=pool, work=work)

    error = await rejected(stubs.workpool.EnqueueBatch(request))

    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert violated_fields(error) == ["work[3].retry_policy.max_attempts"]
    assert await pending_count(stubs, pool) == 0


async def test_args_over_one_megabyte_rejected(stubs, pool):
    work = types_pb2.WorkSpec(function="work", args=large_value(ONE_MEGABYTE))
    request = workpool_service_pb2.EnqueueRequest(pool=pool, work=work)

    error = await rejected(stubs.workpool.Enqueue(request))

    assert error.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert violated_fields(error) == ["work.args"]
    assert str(ONE_MEGABYTE) in error.details()
    assert await pending_count(stubs, pool) == 0


async def test_args_just_under_limit_accepted(stubs, pool):
    # A string Value costs a few bytes of framing on top of its characters.
    work = types_pb2.WorkSpec(function="work", args=large_value(ONE_MEGABYTE - 16))
    request = workpool_service_pb2.EnqueueRequest(pool=pool, work=work)

    response = await stubs.workpool.Enqueue(request)

    assert response.work_id.startswith("wk_")


async def test_context_over_one_megabyte_rejected(stubs, pool):
    on_complete = types_pb2.OnComplete(
        function="done", context=large_value(ONE_MEGABYTE + 1)
    )
    work = types_pb2.WorkSpec(function="work", on_complete=on_complete)
    request = workpool_service_pb2.EnqueueRequest(pool=pool, work=work)

    error = await rejected(stubs.workpool.Enqueue(request))

    assert error.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert violated_fields(error) == ["work.on_complete.context"]


async def test_oversized_batch_item_names_index(stubs, pool):
    work = [
        types_pb2.WorkSpec(function="work"),
        types_pb2.WorkSpec(function="work", args=large_value(ONE_MEGABYTE)),
    ]
    request = workpool_service_pb2.EnqueueBatchRequest(pool=pool, work=work)

    error = await rejected(stubs.workpool.EnqueueBatch(request))

    assert error.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert violated_fields(error) == ["work[1].args"]
    assert await pending_count(stubs, pool) == 0


MALFORMED_IDS = [
    "",
    "not-an-id",
    "wk_",
    "wk_01JD9V6GQ8M3T6Y4D3W0Y5B7Z",
    "wk_01JD9V6GQ8M3T6Y4D3W0Y5B7ZCX",
    "xx_01JD9V6GQ8M3T6Y4D3W0Y5B7ZC",
    "wk_01JD9V6GQ8M3T6Y4D3W0Y5B7Z!",
]


@pytest.mark.parametrize("work_id", MALFORMED_IDS)
async def test_malformed_id_rejected_by_status(stubs, work_id):
    request = workpool_service_pb2.StatusRequest(work_id=work_id)

    error = await rejected(stubs.workpool.Status(request))

    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert violated_fields(error) == ["work_id"]


@pytest.mark.parametrize("work_id", MALFORMED_IDS)
async def test_malformed_id_rejected_by_cancel(stubs, work_id):
    request = workpool_service_pb2.CancelRequest(work_id=work_id)

    error = await rejected(stubs.workpool.Cancel(request))

    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert violated_fields(error) == ["work_id"]


async def test_unknown_id_not_found(stubs):
    status_error = await rejected(
        stubs.workpool.Status(
            workpool_service_pb2.StatusRequest(work_id=UNKNOWN_WORK_ID)
        )
    )
    cancel = await stubs.workpool.Cancel(
        workpool_service_pb2.CancelRequest(work_id=UNKNOWN_WORK_ID)
    )

    assert status_error.code() is grpc.StatusCode.NOT_FOUND
    assert "status_ttl" in status_error.details()
    assert cancel.outcome == workpool_service_pb2.CANCEL_OUTCOME_NOT_FOUND
