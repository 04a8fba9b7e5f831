"""Durability on a real SQLite file: crashes, concurrent load, big batches,
odd payloads and time zones."""

from __future__ import annotations

import asyncio
import collections
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from tests.conftest import eventually
from workpool import (
    AsyncClient,
    Client,
    CompletionEvent,
    OnComplete,
    RetryPolicy,
    Worker,
    WorkState,
    to_value,
)
from workpool.v1 import (
    pool_service_pb2,
    pool_service_pb2_grpc,
    types_pb2,
    workpool_service_pb2,
    workpool_service_pb2_grpc,
)

FAST_RETRY = RetryPolicy(max_attempts=5, initial_backoff=timedelta(milliseconds=100))


class Subscriber:
    """A raw WatchCompletions client that reconnects after any stream error and
    resumes after the last sequence it received."""

    def __init__(self, target: str, pools: list[str]) -> None:
        self.target = target
        self.pools = pools
        self.last_sequence = 0
        self.completions: list[types_pb2.Completion] = []
        self.errors: list[grpc.StatusCode] = []
        self.connections = 0
        self._task: asyncio.Task | None = None

    def start(self) -> Subscriber:
        self._task = asyncio.create_task(self._run())
        return self

    async def _run(self) -> None:
        while True:
            try:
                async with grpc.aio.insecure_channel(self.target) as channel:
                    stub = workpool_service_pb2_grpc.WorkpoolServiceStub(channel)
                    request = workpool_service_pb2.WatchCompletionsRequest(
                        pools=self.pools, after_sequence=self.last_sequence
                    )
                    self.connections += 1
                    async for response in stub.WatchCompletions(request):
                        for completion in response.completions:
                            self.completions.append(completion)
                            self.last_sequence = completion.sequence
            except grpc.aio.AioRpcError as error:
                self.errors.append(error.code())
            await asyncio.sleep(0.1)

    @property
    def sequences(self) -> list[int]:
        return [completion.sequence for completion in self.completions]

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


async def _start_worker(worker: Worker) -> asyncio.Task:
    task = asyncio.create_task(worker.run_async())
    await asyncio.sleep(0)
    return task


async def _stop_worker(worker: Worker, task: asyncio.Task) -> None:
    await worker.stop(timedelta(seconds=1))
    await asyncio.gather(task, return_exceptions=True)


async def test_crash_loses_no_work_or_completion(spawn_server):
    """The server gets kill -9 with 3 of 10 items done, six held by a worker and
    one delayed by 3 s. After a restart on the same file, each item and each
    follow-up finishes exactly once."""
    server = await spawn_server().wait_ready()
    delayed_until = datetime.now(UTC) + timedelta(seconds=3)

    release = asyncio.Event()
    starts: dict[int, list[float]] = collections.defaultdict(list)
    follow_ups: collections.Counter[str] = collections.Counter()
    follow_up_results: dict[str, Any] = {}

    worker = Worker(
        server.target,
        pools=["crash"],
        capacity=10,
        max_reconnect_delay=timedelta(milliseconds=500),
    )

    @worker.handler("step")
    async def step(context, args):
        starts[args["index"]].append(time.time())
        if args["index"] >= 3:
            # Held until the server is gone; the crash loses this attempt.
            await release.wait()
        return {"index": args["index"]}

    @worker.on_complete("step.done")
    async def step_done(context, event: CompletionEvent):
        follow_ups[event.work_id] += 1
        follow_up_results[event.work_id] = (event.result.kind, event.context)

    async with AsyncClient(server.target) as client:
        await client.create_pool(
            "crash", max_parallelism=10, retry_by_default=True, default_retry=FAST_RETRY
        )
        work_ids = []
        for index in range(10):
            work_ids.append(
                await client.enqueue(
                    "crash",
                    "step",
                    {"index": index},
                    on_complete=OnComplete("step.done", {"index": index}),
                    run_at=delayed_until if index == 9 else None,
                )
            )

    subscriber = Subscriber(server.target, ["crash"]).start()
    worker_task = await _start_worker(worker)
    try:
        # Three items and their three follow-ups are in the log.
        await eventually(
            lambda: len(subscriber.completions) >= 6, message="6 completions"
        )
        await eventually(
            lambda: sum(len(starts[index]) for index in range(3, 9)) == 6,
            message="six held attempts",
        )
        server.kill()
        sequence_at_crash = subscriber.last_sequence
        release.set()

        server = await spawn_server(port=server.port).wait_ready()

        async with AsyncClient(server.target) as client:

            async def all_finished() -> bool:
                statuses = await client.status_batch(work_ids)
                return all(s.state is WorkState.FINISHED for s in statuses)

            await eventually(all_finished, timeout=15, message="10 items finished")
            await eventually(
                lambda: len(subscriber.completions) >= 20,
                timeout=10,
                message="20 completions",
            )
            statuses = await client.status_batch(work_ids)
            head = await _head_sequence(server.target)
    finally:
        await _stop_worker(worker, worker_task)
        await subscriber.stop()

    assert sequence_at_crash == 6
    assert subscriber.connections >= 2
    assert subscriber.sequences == list(range(1, 21))
    assert head == 20

    for status in statuses:
        assert status.state is WorkState.FINISHED
        assert status.result is not None
        assert status.result.succeeded

    assert sorted(follow_ups) == sorted(work_ids)
    assert set(follow_ups.values()) == {1}
    for index, work_id in enumerate(work_ids):
        kind, context = follow_up_results[work_id]
        assert kind == "success"
        assert context == {"index": index}

    by_id = {c.work_id: c for c in subscriber.completions if c.function == "step"}
    assert sorted(by_id) == sorted(work_ids)
    for index in range(3, 9):
        # The first attempt died with the server and ran again after its lease.
        assert by_id[work_ids[index]].attempts == 2

    assert len(starts[9]) == 1
    assert starts[9][0] >= delayed_until.timestamp()


async def _head_sequence(target: str) -> int:
    async with grpc.aio.insecure_channel(target) as channel:
        stub = workpool_service_pb2_grpc.WorkpoolServiceStub(channel)
        call = stub.WatchCompletions(workpool_service_pb2.WatchCompletionsRequest())
        first = await call.read()
        call.cancel()
        return first.head_sequence


async def test_concurrent_enqueue_reaches_no_error(spawn_server, caplog):
    """16 client threads enqueue 60 items each (960 in all) while 3 workers
    report and 2 threads query status: no call fails and every item succeeds
    on its first attempt."""
    threads, per_thread = 16, 60
    server = await spawn_server().wait_ready()
    caplog.set_level("WARNING", logger="workpool")

    workers = []
    for number in range(3):
        worker = Worker(server.target, pools=["load"], capacity=8, name=f"w{number}")
        worker.register("job", lambda context, args: args)
        workers.append(worker)

    client = Client(server.target)
    client.create_pool("load", max_parallelism=50)
    errors: list[BaseException] = []
    enqueued: list[str] = []
    enqueued_lock = threading.Lock()
    enqueue_done = threading.Event()

    def enqueue_many(thread: int) -> None:
        for index in range(per_thread):
            try:
                work_id = client.enqueue("load", "job", {"t": thread, "i": index})
            except Exception as error:  # noqa: BLE001 - every error is a failure
                errors.append(error)
                continue
            with enqueued_lock:
                enqueued.append(work_id)

    def query_status() -> int:
        queries = 0
        while not enqueue_done.is_set():
            with enqueued_lock:
                sample = enqueued[-50:]
            if sample:
                try:
                    client.status_batch(sample)
                    queries += 1
                except Exception as error:  # noqa: BLE001
                    errors.append(error)
            time.sleep(0.01)
        return queries

    worker_tasks = [await _start_worker(worker) for worker in workers]
    loop = asyncio.get_running_loop()
    try:
        with ThreadPoolExecutor(max_workers=threads + 2) as executor:
            queriers = [loop.run_in_executor(executor, query_status) for _ in range(2)]
            await asyncio.gather(
                *(
                    loop.run_in_executor(executor, enqueue_many, thread)
                    for thread in range(threads)
                )
            )
            enqueue_done.set()
            query_counts = await asyncio.gather(*queriers)

        async def drained() -> bool:
            pool = await asyncio.to_thread(client.get_pool, "load")
            return pool.stats.pending_count == 0 and pool.stats.running_count == 0

        await eventually(drained, timeout=30, message="the pool to drain")
        statuses = await asyncio.to_thread(client.status_batch, enqueued)
    finally:
        for worker, task in zip(workers, worker_tasks, strict=True):
            await _stop_worker(worker, task)
        client.close()

    assert errors == []
    assert len(enqueued) == threads * per_thread
    assert len(set(enqueued)) == threads * per_thread
    assert min(query_counts) > 0
    assert all(status.state is WorkState.FINISHED for status in statuses)
    assert all(status.result.succeeded for status in statuses)
    assert all(status.previous_attempts == 1 for status in statuses)
    sdk_warnings = [
        record.getMessage()
        for record in caplog.records
        if record.name.startswith("workpool") and record.levelname != "INFO"
    ]
    assert sdk_warnings == []
    log = server.log()
    assert "database is locked" not in log
    assert " ERROR " not in log


# Batches


def _spec(index: int, function: str = "job") -> types_pb2.WorkSpec:
    return types_pb2.WorkSpec(function=function, args=to_value({"i": index}))


async def _raw_stubs(port: int) -> tuple[grpc.aio.Channel, Any, Any]:
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    workpool = workpool_service_pb2_grpc.WorkpoolServiceStub(channel)
    pools = pool_service_pb2_grpc.PoolServiceStub(channel)
    return channel, workpool, pools


def _violations(error: grpc.aio.AioRpcError) -> list[tuple[str, str]]:
    status = rpc_status.from_call(error)
    assert status is not None
    found = []
    for detail in status.details:
        bad_request = error_details_pb2.BadRequest()
        if detail.Unpack(bad_request):
            found += [(v.field, v.description) for v in bad_request.field_violations]
    return found


async def _pending(pools: Any, name: str) -> int:
    response = await pools.GetPool(pool_service_pb2.GetPoolRequest(name=name))
    return response.stats.pending_count


async def _create_paused_pool(pools: Any, name: str) -> None:
    await pools.CreatePool(
        pool_service_pb2.CreatePoolRequest(
            pool=types_pb2.Pool(name=name, max_parallelism=0)
        )
    )


async def test_batch_over_limit_is_rejected(make_server):
    server = await make_server(max_batch_size=50)
    channel, workpool, pools = await _raw_stubs(server.port)
    await _create_paused_pool(pools, "batch")

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await workpool.EnqueueBatch(
            workpool_service_pb2.EnqueueBatchRequest(
                pool="batch", work=[_spec(i) for i in range(51)]
            )
        )
    await channel.close()

    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "50" in caught.value.details()
    violations = _violations(caught.value)
    assert [field for field, _ in violations] == ["work"]
    assert "50" in violations[0][1]
    assert await _pending_after(server, "batch") == 0


async def _pending_after(server: Any, pool: str) -> int:
    channel, _, pools = await _raw_stubs(server.port)
    async with channel:
        return await _pending(pools, pool)


async def test_batch_at_limit_is_stored_whole(make_server):
    server = await make_server(max_batch_size=50)
    channel, workpool, pools = await _raw_stubs(server.port)
    await _create_paused_pool(pools, "batch")

    response = await workpool.EnqueueBatch(
        workpool_service_pb2.EnqueueBatchRequest(
            pool="batch", work=[_spec(i) for i in range(50)]
        )
    )
    statuses = await workpool.StatusBatch(
        workpool_service_pb2.StatusBatchRequest(work_ids=response.work_ids)
    )
    pending = await _pending(pools, "batch")
    await channel.close()

    assert len(set(response.work_ids)) == 50
    assert pending == 50
    assert [s.state for s in statuses.statuses] == [types_pb2.WORK_STATE_PENDING] * 50


@pytest.mark.parametrize(
    "bad_spec, field",
    [
        (types_pb2.WorkSpec(function=""), "work[25].function"),
        (
            types_pb2.WorkSpec(
                function="job", retry_policy=types_pb2.RetryPolicy(max_attempts=0)
            ),
            "work[25].retry_policy.max_attempts",
        ),
    ],
    ids=["empty-function", "zero-attempts"],
)
async def test_batch_with_bad_item_stores_nothing(make_server, bad_spec, field):
    server = await make_server(max_batch_size=50)
    channel, workpool, pools = await _raw_stubs(server.port)
    await _create_paused_pool(pools, "batch")
    work = [_spec(i) for i in range(50)]
    work[25] = bad_spec

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await workpool.EnqueueBatch(
            workpool_service_pb2.EnqueueBatchRequest(pool="batch", work=work)
        )
    pending = await _pending(pools, "batch")
    await channel.close()

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [f for f, _ in _violations(caught.value)] == [field]
    assert pending == 0


async def test_default_limit_batch_is_all_or_nothing(make_server):
    """The default limit is 10,000 items: 10,001 are rejected, 10,000 with one
    bad item in the middle store nothing, and 10,000 good ones are stored."""
    server = await make_server()
    channel, workpool, pools = await _raw_stubs(server.port)
    await _create_paused_pool(pools, "big")
    work = [_spec(i) for i in range(10_000)]

    with pytest.raises(grpc.aio.AioRpcError) as too_big:
        await workpool.EnqueueBatch(
            workpool_service_pb2.EnqueueBatchRequest(
                pool="big", work=[*work, _spec(10_000)]
            )
        )
    pending_after_too_big = await _pending(pools, "big")

    bad = list(work)
    bad[5_000] = types_pb2.WorkSpec(function="")
    with pytest.raises(grpc.aio.AioRpcError) as invalid:
        await workpool.EnqueueBatch(
            workpool_service_pb2.EnqueueBatchRequest(pool="big", work=bad)
        )
    pending_after_invalid = await _pending(pools, "big")

    response = await workpool.EnqueueBatch(
        workpool_service_pb2.EnqueueBatchRequest(pool="big", work=work)
    )
    pending = await _pending(pools, "big")
    last = await workpool.Status(
        workpool_service_pb2.StatusRequest(work_id=response.work_ids[-1])
    )
    await channel.close()

    assert too_big.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "10000" in too_big.value.details().replace(",", "")
    assert [f for f, _ in _violations(too_big.value)] == ["work"]
    assert pending_after_too_big == 0
    assert invalid.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [f for f, _ in _violations(invalid.value)] == ["work[5000].function"]
    assert pending_after_invalid == 0
    assert len(set(response.work_ids)) == 10_000
    assert pending == 10_000
    assert last.status.function == "job"


# Payloads


def _nested(depth: int) -> Any:
    value: Any = "bottom"
    for level in range(depth):
        value = {f"level{level}": value}
    return value


ODD_PAYLOADS = {
    "emoji": {"text": "🦀🚀 ok 👩‍👩‍👧‍👦", "🔑": ["🙂", "🙃"]},
    "right-to-left": {"text": "שלום עולם", "مفتاح": "مرحبا بالعالم"},
    "nul-in-string": {"text": "before\x00after"},
    "nul-in-key": {"key\x00with nul": "value"},
}


async def _round_trip(target: str, payload: Any) -> tuple[Any, Any, CompletionEvent]:
    """Run an echo item with `payload` as args and context; return its status,
    its completion and the args its follow-up received."""
    follow_up_events: list[CompletionEvent] = []
    worker = Worker(target, pools=["odd"], capacity=2)
    worker.register("echo", lambda context, args: args)

    @worker.on_complete("echo.done")
    def echo_done(context, event: CompletionEvent):
        follow_up_events.append(event)

    async with AsyncClient(target) as client:
        await client.ensure_pool("odd")
        work_id = await client.enqueue(
            "odd", "echo", payload, on_complete=OnComplete("echo.done", payload)
        )
        completions = client.watch_completions(pools=["odd"], after_sequence=0)
        task = await _start_worker(worker)
        try:
            completion = await anext(completions)
            await eventually(lambda: follow_up_events, message="the follow-up")
            status = await client.status(work_id)
        finally:
            await completions.aclose()
            await _stop_worker(worker, task)

    assert completion.work_id == work_id
    return status, completion, follow_up_events[0]


@pytest.mark.parametrize("payload", ODD_PAYLOADS.values(), ids=ODD_PAYLOADS.keys())
async def test_odd_payload_returns_exactly(make_server, payload):
    server = await make_server()
    status, completion, event = await _round_trip(f"127.0.0.1:{server.port}", payload)

    assert status.result.succeeded
    assert status.result.return_value == payload
    assert completion.result.return_value == payload
    assert completion.context == payload
    assert event.result.return_value == payload
    assert event.context == payload


async def test_deep_nesting_rejected_naming_limit(make_server):
    """Args 50 objects deep pass the 32-level limit, so the SDK refuses them
    before sending, naming the path and the limit; 20 levels round-trip.
    Raw requests past the limit are covered in test_hardening."""
    server = await make_server()
    target = f"127.0.0.1:{server.port}"

    with pytest.raises(ValueError, match="deeper than 32 levels"):
        await _round_trip(target, _nested(50))

    status, completion, _event = await _round_trip(target, _nested(20))
    assert status.result.return_value == _nested(20)
    assert completion.result.return_value == _nested(20)


async def test_failure_message_with_nul_returns_exactly(stubs, scripted_workers):
    message = "disk\x00full: שגיאה 💥"
    await stubs.pools.CreatePool(
        pool_service_pb2.CreatePoolRequest(pool=types_pb2.Pool(name="odd"))
    )
    enqueued = await stubs.workpool.Enqueue(
        workpool_service_pb2.EnqueueRequest(
            pool="odd",
            work=types_pb2.WorkSpec(
                function="explode",
                on_complete=types_pb2.OnComplete(function="explode.done"),
            ),
        )
    )
    work_id = enqueued.work_id
    worker = await scripted_workers(["odd"], ["explode", "explode.done"], capacity=2)

    await worker.wait_started(1)
    await worker.fail(work_id, error=message, non_retryable=True)
    await worker.wait_started(2)
    status = await stubs.workpool.Status(
        workpool_service_pb2.StatusRequest(work_id=work_id)
    )
    watch = stubs.workpool.WatchCompletions(
        workpool_service_pb2.WatchCompletionsRequest(
            work_ids=[work_id], after_sequence=0
        )
    )
    await watch.read()
    completion = (await watch.read()).completions[0]
    watch.cancel()

    follow_up = worker.started[1]
    assert follow_up.function == "explode.done"
    assert follow_up.args["result"] == {"kind": "failure", "error": message}
    assert status.status.result.failure.error == message
    assert status.status.last_error == message
    assert completion.work_id == work_id
    assert completion.result.failure.error == message


# Time zones


async def test_run_at_other_zone_waits_for_instant(spawn_server):
    """The server runs under TZ=America/New_York; run_at is 2 s ahead, given
    in Asia/Kolkata (UTC+05:30), and is neither early nor shifted."""
    server = await spawn_server(env={"TZ": "America/New_York"}).wait_ready()
    run_at = datetime.now(ZoneInfo("Asia/Kolkata")) + timedelta(seconds=2)
    run_at = run_at.replace(microsecond=run_at.microsecond // 1000 * 1000)
    starts: list[float] = []
    worker = Worker(server.target, pools=["tz"], capacity=1)

    @worker.handler("tick")
    def tick(context, args):
        starts.append(time.time())

    async with AsyncClient(server.target) as client:
        await client.create_pool("tz")
        work_id = await client.enqueue("tz", "tick", run_at=run_at)
        task = await _start_worker(worker)
        try:
            pending = await client.status(work_id)

            async def finished() -> bool:
                status = await client.status(work_id)
                return status.state is WorkState.FINISHED

            await eventually(finished, timeout=10, message="the delayed item")
        finally:
            await _stop_worker(worker, task)

    assert pending.state is WorkState.PENDING
    assert pending.ready_at == run_at
    assert len(starts) == 1
    assert starts[0] >= run_at.timestamp()
    assert starts[0] < run_at.timestamp() + 3
