"""Server settings from flags, WORKPOOL_* variables and a TOML file, and the
client subcommands of the `workpool` command."""

from __future__ import annotations

import json
import subprocess
from datetime import timedelta

import grpc
import pytest

from tests.conftest import WORKPOOL_COMMAND, free_port
from workpool import AsyncClient
from workpool.v1 import worker_service_pb2, worker_service_pb2_grpc


def _write_config(tmp_path, text: str) -> str:
    path = tmp_path / "workpool.toml"
    path.write_text(text)
    return str(path)


async def _welcome(target: str, pool: str) -> worker_service_pb2.Welcome:
    async with grpc.aio.insecure_channel(target) as channel:
        stub = worker_service_pb2_grpc.WorkerServiceStub(channel)
        hello = worker_service_pb2.Hello(
            pools=[pool], functions=["noop"], capacity=1, worker_name="probe"
        )

        async def requests():
            yield worker_service_pb2.WorkRequest(hello=hello)

        call = stub.Work(requests())
        first = await call.read()
        call.cancel()
        return first.welcome


@pytest.mark.parametrize(
    "use_env, use_flag, expected_source",
    [(True, True, "flag"), (True, False, "env"), (False, False, "file")],
    ids=["flag-wins", "env-wins", "file-only"],
)
async def test_flag_beats_env_beats_file(
    spawn_server, tmp_path, use_env, use_flag, expected_source
):
    """Each source sets its own listen port and lease length, and the strongest
    source given decides both."""
    ports = {"file": free_port(), "env": free_port(), "flag": free_port()}
    leases = {"file": "7s", "env": "8s", "flag": "9s"}
    config = _write_config(
        tmp_path,
        f'database_url = "sqlite:///{tmp_path / "cfg.db"}"\n'
        f'listen = "127.0.0.1:{ports["file"]}"\n'
        'http_listen = ""\n'
        f'lease_duration = "{leases["file"]}"\n'
        'heartbeat_interval = "1s"\n'
        '[[pools]]\nname = "cfg"\n',
    )
    env = {}
    if use_env:
        env = {
            "WORKPOOL_LISTEN": f"127.0.0.1:{ports['env']}",
            "WORKPOOL_LEASE_DURATION": leases["env"],
        }
    flags = ["--config", config]
    if use_flag:
        flags += [
            "--listen", f"127.0.0.1:{ports['flag']}",
            "--lease-duration", leases["flag"],
        ]  # fmt: skip
    server = spawn_server(*flags, port=ports[expected_source], env=env, defaults=False)
    await server.wait_ready()

    welcome = await _welcome(server.target, "cfg")

    expected = int(leases[expected_source].removesuffix("s"))
    assert welcome.lease_duration.ToTimedelta() == timedelta(seconds=expected)
    assert welcome.heartbeat_interval.ToTimedelta() == timedelta(seconds=1)


@pytest.mark.parametrize(
    "flags, env, config_text, setting",
    [
        (["--lease-duration", "500ms"], {}, "", "lease_duration"),
        (["--heartbeat-interval", "soon"], {}, "", "--heartbeat-interval"),
        ([], {"WORKPOOL_MAX_BATCH_SIZE": "many"}, "", "WORKPOOL_MAX_BATCH_SIZE"),
        ([], {"WORKPOOL_HTTP_LISTEN": "nowhere"}, "", "http_listen"),
        ([], {}, 'log_format = "xml"\n', "log_format"),
        ([], {}, 'lease_time = "5s"\n', "lease_time"),
        ([], {}, "[[pools]]\nmax_parallelism = 2\n", "pools[0].name"),
        ([], {"WORKPOOL_TRACING": "jaeger"}, "", "tracing"),
        ([], {"WORKPOOL_MAX_POOL_LABELS": "-3"}, "", "max_pool_labels"),
        ([], {}, '[[pools]]\nname = "a"\n[[pools]]\nname = "a"\n', "pools[1].name"),
    ],
    ids=[
        "flag-short-lease",
        "flag-bad-duration",
        "env-not-a-number",
        "env-bad-address",
        "file-bad-choice",
        "file-unknown-key",
        "file-pool-without-name",
        "env-unknown-tracing-mode",
        "env-negative-labels",
        "file-pool-twice",
    ],
)
def test_invalid_setting_exits_with_2(tmp_path, flags, env, config_text, setting):
    command = [WORKPOOL_COMMAND, "serve", "--listen", f"127.0.0.1:{free_port()}"]
    if config_text:
        command += ["--config", _write_config(tmp_path, config_text)]
    command += flags
    completed = subprocess.run(
        command,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=20,
    )

    assert completed.returncode == 2, completed.stderr
    assert setting in completed.stderr
    assert "Traceback" not in completed.stderr


async def test_config_file_pools_created_at_start(spawn_server, tmp_path):
    config = _write_config(
        tmp_path,
        "[[pools]]\n"
        'name = "emails"\n'
        "max_parallelism = 3\n"
        "retry_by_default = true\n"
        'status_ttl = "2h"\n'
        "[pools.retry]\n"
        "max_attempts = 7\n"
        'initial_backoff = "1s"\n'
        "base = 3\n"
        "[[pools]]\n"
        'name = "reports"\n'
        "max_parallelism = 0\n"
        "keep_status_forever = true\n",
    )
    server = await spawn_server("--config", config).wait_ready()

    async with AsyncClient(server.target) as client:
        pools = {pool.name: pool for pool in await client.list_pools()}

    assert sorted(pools) == ["emails", "reports"]
    emails = pools["emails"]
    assert emails.max_parallelism == 3
    assert emails.retry_by_default is True
    assert emails.status_ttl == timedelta(hours=2)
    assert emails.default_retry.max_attempts == 7
    assert emails.default_retry.initial_backoff == timedelta(seconds=1)
    assert emails.default_retry.base == 3
    reports = pools["reports"]
    assert reports.max_parallelism == 0
    assert reports.keep_status_forever is True


def _cli(target: str, *arguments: str) -> list[dict]:
    """Run a client subcommand and parse each output line as JSON."""
    completed = subprocess.run(
        [WORKPOOL_COMMAND, "--server", target, *arguments],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert completed.returncode == 0, completed.stderr
    return [json.loads(line) for line in completed.stdout.splitlines()]


async def test_cli_subcommands_print_json_lines(spawn_server):
    server = await spawn_server().wait_ready()
    target = server.target

    [created] = _cli(target, "pools", "create", "jobs", "--max-parallelism", "0")
    [updated] = _cli(target, "pools", "update", "jobs", "--max-parallelism", "4")
    [fetched] = _cli(target, "pools", "get", "jobs")
    _cli(target, "pools", "create", "archive")
    listed = _cli(target, "pools", "list")
    _cli(target, "pools", "update", "jobs", "--max-parallelism", "0")

    [first] = _cli(target, "enqueue", "jobs", "resize", '{"width": 640}')
    [second] = _cli(target, "enqueue", "jobs", "resize", "--run-after", "1h")
    [third] = _cli(target, "enqueue", "jobs", "resize")
    statuses = _cli(target, "status", first["work_id"], second["work_id"])
    [canceled] = _cli(target, "cancel", first["work_id"])
    [canceled_again] = _cli(target, "cancel", first["work_id"])
    [cancel_all] = _cli(target, "cancel-all", "jobs")
    completions = _cli(
        target, "watch", "--pool", "jobs", "--after", "0", "--count", "3"
    )

    assert created["name"] == "jobs"
    assert created["max_parallelism"] == 0
    assert updated["max_parallelism"] == 4
    assert fetched["name"] == "jobs"
    assert fetched["max_parallelism"] == 4
    assert fetched["stats"] == {
        "pending_count": 0,
        "running_count": 0,
        "circuit_state": None,
        "circuit_open_until": None,
        "borrowed_count": 0,
    }
    assert [pool["name"] for pool in listed] == ["archive", "jobs"]

    assert first["work_id"].startswith("wk_")
    assert [status["work_id"] for status in statuses] == [
        first["work_id"],
        second["work_id"],
    ]
    assert [status["state"] for status in statuses] == ["pending", "pending"]
    assert statuses[0]["function"] == "resize"
    assert canceled == {"outcome": "canceled"}
    assert canceled_again == {"outcome": "already_finished"}
    assert cancel_all == {"canceled_count": 2, "cancel_requested_count": 0}

    assert [c["sequence"] for c in completions] == [1, 2, 3]
    assert [c["work_id"] for c in completions] == [
        first["work_id"],
        second["work_id"],
        third["work_id"],
    ]
    assert all(c["result"]["kind"] == "canceled" for c in completions)


async def test_cli_scheduling_flags_reach_the_server(spawn_server):
    server = await spawn_server().wait_ready()
    target = server.target

    _cli(target, "pools", "create", "shared")
    [created] = _cli(
        target,
        "pools",
        "create",
        "reports",
        "--max-parallelism",
        "0",
        "--max-per-key",
        "2",
        "--priority-aging",
        "5s",
        "--rate-limit",
        "2.5",
        "--rate-burst",
        "4",
        "--default-attempt-timeout",
        "1m",
        "--parent",
        "shared",
        "--breaker-failure-rate",
        "0.5",
        "--breaker-min-attempts",
        "20",
    )
    [enqueued] = _cli(
        target,
        "enqueue",
        "reports",
        "render",
        "--concurrency-key",
        "tenant-7",
        "--priority",
        "9",
        "--attempt-timeout",
        "30s",
    )
    [status] = _cli(target, "status", enqueued["work_id"])

    assert created["max_per_key"] == 2
    assert created["rate_limit"] == {"per_second": 2.5, "burst": 4}
    assert created["parent"] == "shared"
    assert created["circuit_breaker"]["failure_rate"] == 0.5
    assert created["circuit_breaker"]["min_attempts"] == 20
    assert status["concurrency_key"] == "tenant-7"
    assert status["priority"] == 9
