"""The worker protocol over raw generated stubs, without the SDK."""

from __future__ import annotations

import asyncio

from google.protobuf import struct_pb2

from tests.conftest import eventually
from workpool.v1 import (
    pool_service_pb2,
    types_pb2,
    worker_service_pb2,
    workpool_service_pb2,
)


def _value(**fields) -> struct_pb2.Value:
    value = struct_pb2.Value()
    value.struct_value.update(fields)
    return value


async def test_raw_worker_runs_item_and_follow_up(stubs):
    await stubs.pools.CreatePool(
        pool_service_pb2.CreatePoolRequest(pool=types_pb2.Pool(name="raw"))
    )
    watch = stubs.workpool.WatchCompletions(
        workpool_service_pb2.WatchCompletionsRequest(pools=["raw"], after_sequence=0)
    )
    first = await watch.read()
    assert first.head_sequence == 0

    response = await stubs.workpool.Enqueue(
        workpool_service_pb2.EnqueueRequest(
            pool="raw",
            work=types_pb2.WorkSpec(
                function="echo",
                args=_value(text="hi"),
                on_complete=types_pb2.OnComplete(
                    function="done", context=_value(tag="t")
                ),
            ),
        )
    )
    work_id = response.work_id

    outgoing: asyncio.Queue = asyncio.Queue()

    async def requests():
        yield worker_service_pb2.WorkRequest(
            hello=worker_service_pb2.Hello(
                pools=["raw"], functions=["echo", "done"], capacity=2, worker_name="w"
            )
        )
        while True:
            message = await outgoing.get()
            if message is None:
                return
            yield message

    stream = stubs.worker.Work(requests())
    welcome = await stream.read()
    assert welcome.welcome.worker_id.startswith("ws_")

    seen_functions = []
    while len(seen_functions) < 2:
        message = await stream.read()
        for assignment in message.assignments:
            seen_functions.append(assignment.function)
            result = worker_service_pb2.AttemptResult(
                work_id=assignment.work_id,
                attempt=assignment.attempt,
                success=worker_service_pb2.AttemptSuccess(return_value=assignment.args),
            )
            await outgoing.put(
                worker_service_pb2.WorkRequest(
                    results=[result], credit=worker_service_pb2.Credit(count=1)
                )
            )
    assert seen_functions == ["echo", "done"]

    async def finished() -> bool:
        status = await stubs.workpool.Status(
            workpool_service_pb2.StatusRequest(work_id=work_id)
        )
        return status.status.state == types_pb2.WORK_STATE_FINISHED

    await eventually(finished)
    completion = (await watch.read()).completions[0]
    assert completion.work_id == work_id
    assert completion.sequence == 1
    assert completion.context.struct_value.fields["tag"].string_value == "t"
    await outgoing.put(None)
    watch.cancel()
