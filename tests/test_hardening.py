"""Hostile or careless input that once slipped through, and how it ends now."""

from __future__ import annotations

import asyncio
import math
import socket
import subprocess

import grpc
import pytest
from google.protobuf import field_mask_pb2, struct_pb2

from tests.conftest import WORKPOOL_COMMAND, ScriptedWorker, eventually, free_port
from tests.test_errors import rejected, violated_fields
from workpool.v1 import (
    pool_service_pb2,
    types_pb2,
    worker_service_pb2,
    workpool_service_pb2,
)


@pytest.fixture
async def pool(stubs) -> str:
    await stubs.pools.CreatePool(
        pool_service_pb2.CreatePoolRequest(
            pool=types_pb2.Pool(name="hard", max_parallelism=4)
        )
    )
    return "hard"


@pytest.mark.parametrize("name", ["nl\n", "tab\t", "a b"])
async def test_names_with_control_characters_rejected(stubs, pool, name):
    create = await rejected(
        stubs.pools.CreatePool(
            pool_service_pb2.CreatePoolRequest(pool=types_pb2.Pool(name=name))
        )
    )
    enqueue = await rejected(
        stubs.workpool.Enqueue(
            workpool_service_pb2.EnqueueRequest(
                pool=pool, work=types_pb2.WorkSpec(function=name)
            )
        )
    )

    assert create.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violated_fields(create) == ["pool.name"]
    assert enqueue.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violated_fields(enqueue) == ["work.function"]


@pytest.mark.parametrize("number", [math.nan, math.inf, -math.inf])
async def test_non_finite_numbers_rejected(stubs, pool, number):
    args = struct_pb2.Value()
    args.struct_value.update({"deep": [1, {"x": number}]})

    error = await rejected(
        stubs.workpool.Enqueue(
            workpool_service_pb2.EnqueueRequest(
                pool=pool, work=types_pb2.WorkSpec(function="f", args=args)
            )
        )
    )

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violated_fields(error) == ["work.args"]
    assert "NaN or an infinite number" in error.details()


async def test_idempotency_key_control_character_named(stubs, pool):
    error = await rejected(
        stubs.workpool.Enqueue(
            workpool_service_pb2.EnqueueRequest(
                pool=pool,
                work=types_pb2.WorkSpec(function="f", idempotency_key="a\x07b"),
            )
        )
    )

    assert violated_fields(error) == ["work.idempotency_key"]
    assert "control character" in error.details()


async def test_worker_name_with_newline_rejected(stubs, pool):
    async def requests():
        yield worker_service_pb2.WorkRequest(
            hello=worker_service_pb2.Hello(
                pools=[pool],
                functions=["f"],
                capacity=1,
                worker_name="w\nERROR forged line",
            )
        )

    call = stubs.worker.Work(requests())
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call.read()

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violated_fields(caught.value) == ["hello.worker_name"]


async def test_update_mask_without_value_rejected(stubs, pool):
    error = await rejected(
        stubs.pools.UpdatePool(
            pool_service_pb2.UpdatePoolRequest(
                pool=types_pb2.Pool(name=pool),
                update_mask=field_mask_pb2.FieldMask(paths=["max_parallelism"]),
            )
        )
    )
    stored = await stubs.pools.GetPool(pool_service_pb2.GetPoolRequest(name=pool))

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violated_fields(error) == ["pool.max_parallelism"]
    assert stored.pool.max_parallelism == 4


async def test_oversized_result_fails_only_its_item(stubs, pool):
    """A return value over the payload limit fails that item for good, with
    the limit in its error, and the worker's stream and other items go on."""
    work_ids = []
    for index in range(3):
        response = await stubs.workpool.Enqueue(
            workpool_service_pb2.EnqueueRequest(
                pool=pool,
                work=types_pb2.WorkSpec(function="f", idempotency_key=str(index)),
            )
        )
        work_ids.append(response.work_id)

    def respond(started) -> worker_service_pb2.AttemptSuccess:
        text = "x" * (1024 * 1024 + 1) if started.work_id == work_ids[0] else "small"
        return worker_service_pb2.AttemptSuccess(
            return_value=struct_pb2.Value(string_value=text)
        )

    worker = await ScriptedWorker(
        stubs.worker, [pool], ["f"], capacity=3, respond=respond
    ).start()

    async def all_finished() -> bool:
        response = await stubs.workpool.StatusBatch(
            workpool_service_pb2.StatusBatchRequest(work_ids=work_ids)
        )
        return all(s.state == types_pb2.WORK_STATE_FINISHED for s in response.statuses)

    await eventually(all_finished)
    statuses = (
        await stubs.workpool.StatusBatch(
            workpool_service_pb2.StatusBatchRequest(work_ids=work_ids)
        )
    ).statuses

    failure = statuses[0].result.failure
    assert "over the limit of 1048576 bytes" in failure.error
    assert failure.non_retryable
    assert statuses[0].previous_attempts == 1
    for status in statuses[1:]:
        assert status.result.success.return_value.string_value == "small"
        assert status.previous_attempts == 1
    assert len(worker.started) == 3
    await worker.close()


def nested_list(levels: int) -> struct_pb2.Value:
    """Return a Value of `levels` lists, each inside the previous one."""
    value = struct_pb2.Value(string_value="leaf")
    for _ in range(levels):
        outer = struct_pb2.Value()
        outer.list_value.values.append(value)
        value = outer
    return value


async def test_args_nested_past_limit_rejected(stubs, pool):
    async def enqueue(levels: int):
        return stubs.workpool.Enqueue(
            workpool_service_pb2.EnqueueRequest(
                pool=pool,
                work=types_pb2.WorkSpec(function="f", args=nested_list(levels)),
            )
        )

    accepted = await (await enqueue(32))
    error = await rejected(await enqueue(33))

    assert accepted.work_id
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violated_fields(error) == ["work.args"]
    assert "deeper than 32 levels" in error.details()


async def test_deep_result_fails_only_its_item(stubs, pool):
    """A return value nested past the limit fails its item for good, and the
    worker's stream and its other items go on."""
    work_ids = []
    for index in range(2):
        response = await stubs.workpool.Enqueue(
            workpool_service_pb2.EnqueueRequest(
                pool=pool,
                work=types_pb2.WorkSpec(function="f", idempotency_key=f"d{index}"),
            )
        )
        work_ids.append(response.work_id)

    def respond(started) -> worker_service_pb2.AttemptSuccess:
        levels = 40 if started.work_id == work_ids[0] else 2
        return worker_service_pb2.AttemptSuccess(return_value=nested_list(levels))

    worker = await ScriptedWorker(
        stubs.worker, [pool], ["f"], capacity=2, respond=respond
    ).start()

    async def statuses():
        response = await stubs.workpool.StatusBatch(
            workpool_service_pb2.StatusBatchRequest(work_ids=work_ids)
        )
        return response.statuses

    async def all_finished() -> bool:
        return all(s.state == types_pb2.WORK_STATE_FINISHED for s in await statuses())

    await eventually(all_finished)
    deep, shallow = await statuses()

    assert "deeper than 32 levels" in deep.result.failure.error
    assert deep.result.failure.non_retryable
    assert shallow.result.HasField("success")
    await worker.close()


async def test_second_server_on_busy_port_fails(spawn_server):
    first = spawn_server()
    await first.wait_ready()

    second = spawn_server(port=first.port, database="other.db")
    code = await asyncio.to_thread(second.process.wait, 20)

    assert code != 0
    assert first.process.poll() is None


@pytest.mark.parametrize(
    ("pool_table", "setting"),
    [
        ('name = "a b"', "pools[0].name"),
        ('name = "p"\nmax_parallelism = 1000000000', "pools[0].max_parallelism"),
        ('name = "p"\nretry = { max_attempts = "x" }', "pools[0]"),
        ('name = "p"\nretry = { base = nan }', "pools[0].retry.base"),
        ('name = "p"\nstatus_ttl = "100000d"', "pools[0].status_ttl"),
    ],
    ids=["bad-name", "huge-parallelism", "text-attempts", "nan-base", "long-ttl"],
)
def test_config_pool_limits_enforced(tmp_path, pool_table, setting):
    config = tmp_path / "workpool.toml"
    config.write_text(f"[[pools]]\n{pool_table}\n")

    completed = subprocess.run(
        [WORKPOOL_COMMAND, "serve", "--config", str(config),
         "--listen", f"127.0.0.1:{free_port()}", "--http-listen", ""],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=20,
    )  # fmt: skip

    assert completed.returncode == 2, completed.stderr
    assert setting in completed.stderr
    assert "Traceback" not in completed.stderr


@pytest.mark.parametrize(
    "arguments",
    [
        ["enqueue", "p", "f", "NaN"],
        ["enqueue", "p", "f", "--max-attempts", "0"],
        ["pools", "create", "x", "--max-parallelism", "-1"],
        ["serve", "--log-level", "LOUD"],
        ["watch", "--count", "-1"],
        ["enqueue", "p", "f", "[" * 5000 + "]" * 5000],
        ["enqueue", "p", "f", "--context", "{}"],
        ["enqueue", "p", "f", "--retry", "no", "--max-attempts", "3"],
    ],
    ids=[
        "nan-args",
        "zero-attempts",
        "negative-parallelism",
        "bad-level",
        "count",
        "deep-json",
        "context-without-follow-up",
        "attempts-without-retry",
    ],
)
def test_cli_rejects_bad_input_cleanly(tmp_path, arguments):
    completed = subprocess.run(
        [WORKPOOL_COMMAND, "--server", f"127.0.0.1:{free_port()}", *arguments],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=20,
    )

    assert completed.returncode == 2, completed.stderr
    assert "Traceback" not in completed.stderr


def test_start_errors_name_the_setting(tmp_path):
    """Busy ports and a [[pools]] entry the store rejects end the start with
    one line naming the setting, not a traceback."""
    config = tmp_path / "workpool.toml"
    config.write_text('[[pools]]\nname = "child"\nparent = "missing"\n')
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = f"127.0.0.1:{busy.getsockname()[1]}"

        def serve(*flags: str) -> subprocess.CompletedProcess:
            return subprocess.run(
                [
                    WORKPOOL_COMMAND,
                    "serve",
                    "--database-url",
                    f"sqlite:///{tmp_path / 'workpool.db'}",
                    *flags,
                ],
                capture_output=True,
                text=True,
                timeout=60,
            )

        grpc_busy = serve("--listen", taken, "--http-listen", "")
        http_busy = serve("--listen", "127.0.0.1:0", "--http-listen", taken)
        orphan = serve(
            "--listen", "127.0.0.1:0", "--http-listen", "", "--config", str(config)
        )

    assert grpc_busy.returncode == 1
    assert f"listen: cannot bind {taken}" in grpc_busy.stderr
    assert http_busy.returncode == 1
    assert f"http_listen: cannot bind {taken}" in http_busy.stderr
    assert orphan.returncode == 2
    assert "pools: pool.parent: pool 'missing' not found" in orphan.stderr
    for completed in (grpc_busy, http_busy, orphan):
        assert "Traceback" not in completed.stderr
