"""TLS, mutual TLS, certificate reloading, bearer tokens and their roles.

Authentication does not depend on the storage engine, so these tests run on
SQLite only.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import subprocess
import tomllib
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

import workpool
from tests.certs import Authority
from tests.conftest import WORKPOOL_COMMAND
from workpool.v1 import (
    pool_service_pb2,
    pool_service_pb2_grpc,
    worker_service_pb2,
    worker_service_pb2_grpc,
)
from workpool_server.app import RunningServer
from workpool_server.config import ConfigError, ServerConfig, load_config
from workpool_server.engine.model import PoolSettings
from workpool_server.security import (
    TlsSetupError,
    TokenEntry,
    hash_token,
    is_loopback,
)

CLIENT_TOKEN = "wpt_client-token-for-tests"
WORKER_TOKEN = "wpt_worker-token-for-tests"
ADMIN_TOKEN = "wpt_admin-token-for-tests"
TOKENS = (
    TokenEntry("app", hash_token(CLIENT_TOKEN), frozenset({"client"})),
    TokenEntry("workers", hash_token(WORKER_TOKEN), frozenset({"worker"})),
    TokenEntry("ops", hash_token(ADMIN_TOKEN), frozenset({"admin", "client"})),
)

ServerMaker = Callable[..., Any]


@pytest.fixture
def database_engine() -> str:
    """Run on SQLite only: authentication does not touch the store."""
    return "sqlite"


@pytest.fixture
def start(make_server) -> ServerMaker:
    async def factory(**overrides: Any) -> RunningServer:
        overrides.setdefault("pools", (PoolSettings(name="default"),))
        return await make_server(**overrides)

    return factory


@pytest.fixture
def authority(tmp_path) -> Authority:
    return Authority(tmp_path, "ca")


def target(server: RunningServer) -> str:
    return f"127.0.0.1:{server.port}"


async def tls_server(start: ServerMaker, authority: Authority, **extra: Any) -> Any:
    issued = authority.issue_server()
    return await start(
        tls_cert_file=str(issued.cert_file), tls_key_file=str(issued.key_file), **extra
    )


async def assert_unavailable(client: workpool.AsyncClient) -> None:
    with pytest.raises(workpool.UnavailableError):
        await client.list_pools()


# TLS


async def test_tls_serves_clients_that_trust_its_ca(start, authority):
    server = await tls_server(start, authority)
    credentials = workpool.tls_credentials(ca_file=authority.cert_file)

    async with workpool.AsyncClient(
        target(server), credentials=credentials, timeout=10
    ) as client:
        work_id = await client.enqueue("default", "noop", {"n": 1})
        assert (await client.status(work_id)).state is workpool.WorkState.PENDING


async def test_tls_refuses_plaintext_and_untrusted_clients(start, authority, tmp_path):
    server = await tls_server(start, authority)
    stranger = Authority(tmp_path, "stranger")

    async with workpool.AsyncClient(target(server), timeout=5) as plaintext:
        await assert_unavailable(plaintext)
    untrusting = workpool.tls_credentials(ca_file=stranger.cert_file)
    async with workpool.AsyncClient(
        target(server), credentials=untrusting, timeout=5
    ) as client:
        await assert_unavailable(client)


async def test_mutual_tls_requires_client_certificate(start, authority, tmp_path):
    server = await tls_server(
        start, authority, tls_client_ca_file=str(authority.cert_file)
    )
    stranger = Authority(tmp_path, "stranger")

    async with workpool.AsyncClient(
        target(server),
        credentials=workpool.tls_credentials(ca_file=authority.cert_file),
        timeout=5,
    ) as anonymous:
        await assert_unavailable(anonymous)
    forged = stranger.issue_client()
    async with workpool.AsyncClient(
        target(server),
        credentials=workpool.tls_credentials(
            ca_file=authority.cert_file,
            cert_file=forged.cert_file,
            key_file=forged.key_file,
        ),
        timeout=5,
    ) as impostor:
        await assert_unavailable(impostor)

    issued = authority.issue_client()
    async with workpool.AsyncClient(
        target(server),
        credentials=workpool.tls_credentials(
            ca_file=authority.cert_file,
            cert_file=issued.cert_file,
            key_file=issued.key_file,
        ),
        timeout=10,
    ) as client:
        assert [pool.name for pool in await client.list_pools()] == ["default"]


async def test_replaced_certificate_files_serve_new_connections(
    start, authority, tmp_path
):
    issued = authority.issue_server()
    server = await start(
        tls_cert_file=str(issued.cert_file), tls_key_file=str(issued.key_file)
    )
    successor = Authority(tmp_path, "successor")
    renewed = successor.issue_server()

    # Rotation writes new files over the old ones while the server runs.
    os.replace(renewed.key_file, issued.key_file)
    os.replace(renewed.cert_file, issued.cert_file)

    async with workpool.AsyncClient(
        target(server),
        credentials=workpool.tls_credentials(ca_file=successor.cert_file),
        timeout=10,
    ) as client:
        assert [pool.name for pool in await client.list_pools()] == ["default"]
    async with workpool.AsyncClient(
        target(server),
        credentials=workpool.tls_credentials(ca_file=authority.cert_file),
        timeout=5,
    ) as outdated:
        await assert_unavailable(outdated)


async def test_unusable_replacement_keeps_current_certificate(
    start, authority, tmp_path, caplog
):
    caplog.set_level(logging.WARNING, logger="workpool_server.security")
    issued = authority.issue_server()
    server = await start(
        tls_cert_file=str(issued.cert_file), tls_key_file=str(issued.key_file)
    )
    mismatched = Authority(tmp_path, "other").issue_server()

    os.replace(mismatched.key_file, issued.key_file)

    async with workpool.AsyncClient(
        target(server),
        credentials=workpool.tls_credentials(ca_file=authority.cert_file),
        timeout=10,
    ) as client:
        assert [pool.name for pool in await client.list_pools()] == ["default"]
    failures = [r for r in caplog.records if r.event == "tls_reload_failed"]
    assert len(failures) == 1
    assert "tls_cert_file, tls_key_file" in failures[0].error


async def test_bad_tls_files_name_the_setting(start, authority, tmp_path):
    issued = authority.issue_server()
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate")
    other = Authority(tmp_path, "other").issue_server()

    with pytest.raises(TlsSetupError, match="tls_cert_file, tls_key_file"):
        await start(tls_cert_file=str(garbage), tls_key_file=str(issued.key_file))
    with pytest.raises(TlsSetupError, match="tls_cert_file, tls_key_file"):
        await start(
            tls_cert_file=str(issued.cert_file), tls_key_file=str(other.key_file)
        )
    with pytest.raises(TlsSetupError, match="tls_client_ca_file"):
        await start(
            tls_cert_file=str(issued.cert_file),
            tls_key_file=str(issued.key_file),
            tls_client_ca_file=str(garbage),
        )


async def test_tls_settings_are_checked_at_start(tmp_path, authority):
    issued = authority.issue_server()

    with pytest.raises(ConfigError, match="tls_cert_file, tls_key_file"):
        ServerConfig(tls_cert_file=str(issued.cert_file)).validate()
    with pytest.raises(ConfigError, match="tls_client_ca_file"):
        ServerConfig(tls_client_ca_file=str(authority.cert_file)).validate()
    with pytest.raises(ConfigError, match="tls_key_file: cannot read"):
        ServerConfig(
            tls_cert_file=str(issued.cert_file),
            tls_key_file=str(tmp_path / "missing.pem"),
        ).validate()


# Tokens


async def test_calls_without_a_valid_token_are_unauthenticated(start):
    server = await start(tokens=TOKENS)

    async with workpool.AsyncClient(target(server), timeout=5) as anonymous:
        with pytest.raises(workpool.UnauthenticatedError, match="missing bearer"):
            await anonymous.enqueue("default", "noop")
    async with workpool.AsyncClient(
        target(server), token="wpt_not-listed", timeout=5
    ) as stranger:
        with pytest.raises(workpool.UnauthenticatedError, match="unknown token"):
            await stranger.status("wk_01JD9V6GQ8M3T6Y4D3W0Y5B7ZC")

    scrape = server.metrics.registry.get_sample_value
    assert scrape("workpool_auth_denied_total", {"reason": "missing_token"}) == 1
    assert scrape("workpool_auth_denied_total", {"reason": "unknown_token"}) == 1


async def test_each_role_opens_its_own_service(start):
    server = await start(tokens=TOKENS)

    async with workpool.AsyncClient(
        target(server), token=CLIENT_TOKEN, timeout=5
    ) as app:
        work_id = await app.enqueue("default", "noop")
        assert (await app.status(work_id)).work_id == work_id
        with pytest.raises(workpool.PermissionDeniedError, match="'admin'"):
            await app.list_pools()
    async with workpool.AsyncClient(
        target(server), token=WORKER_TOKEN, timeout=5
    ) as worker_only:
        with pytest.raises(workpool.PermissionDeniedError, match="'client'"):
            await worker_only.enqueue("default", "noop")
    async with workpool.AsyncClient(
        target(server), token=ADMIN_TOKEN, timeout=5
    ) as ops:
        await ops.update_pool("default", max_parallelism=3)
        assert (await ops.get_pool("default")).max_parallelism == 3


async def test_worker_stream_needs_the_worker_role(start):
    server = await start(tokens=TOKENS)

    async def first_message(token: str) -> Any:
        async with grpc.aio.insecure_channel(target(server)) as channel:
            stream = worker_service_pb2_grpc.WorkerServiceStub(channel).Work(
                metadata=[("authorization", f"Bearer {token}")]
            )
            await stream.write(
                worker_service_pb2.WorkRequest(
                    hello=worker_service_pb2.Hello(
                        pools=["default"], functions=["noop"], capacity=1
                    )
                )
            )
            try:
                return await stream.read()
            except grpc.aio.AioRpcError as error:
                return error.code()

    assert await first_message(CLIENT_TOKEN) == grpc.StatusCode.PERMISSION_DENIED
    welcome = await first_message(WORKER_TOKEN)
    assert welcome.welcome.worker_id


async def test_sdk_worker_runs_items_with_its_token(start):
    server = await start(tokens=TOKENS)
    worker = workpool.Worker(target(server), pools=["default"], token=WORKER_TOKEN)

    @worker.handler("double")
    async def double(context, args):
        return args["n"] * 2

    async with workpool.AsyncClient(
        target(server), token=CLIENT_TOKEN, timeout=10
    ) as app:
        await app.enqueue("default", "double", {"n": 21})
        completions = app.watch_completions(after_sequence=0)
        task = asyncio.create_task(worker.run_async())
        try:
            completion = await anext(completions)
        finally:
            await worker.stop()
            await task
            await completions.aclose()
    assert completion.result.return_value == 42


async def test_health_open_and_reflection_optional(start):
    open_server = await start(tokens=TOKENS)
    closed_server = await start(
        tokens=TOKENS,
        reflection=False,
        database="second.db",
    )

    for server in (open_server, closed_server):
        async with grpc.aio.insecure_channel(target(server)) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            reply = await health.Check(health_pb2.HealthCheckRequest(service=""))
            assert reply.status == health_pb2.HealthCheckResponse.SERVING

    async def list_services_once(server: RunningServer, token: str | None) -> Any:
        metadata = [("authorization", f"Bearer {token}")] if token else []
        async with grpc.aio.insecure_channel(target(server)) as channel:
            stub = reflection_pb2_grpc.ServerReflectionStub(channel)
            call = stub.ServerReflectionInfo(
                iter([reflection_pb2.ServerReflectionRequest(list_services="")]),
                metadata=metadata,
            )
            try:
                async for reply in call:
                    return [s.name for s in reply.list_services_response.service]
            except grpc.aio.AioRpcError as error:
                return error.code()

    async def list_services(server: RunningServer, token: str | None) -> Any:
        # TODO: a refusal that ends this bidirectional call before its request
        # is read reached the client once as INTERNAL on a loaded machine, so
        # that status gets one more try. A service list is never accepted.
        outcome = await list_services_once(server, token)
        if outcome == grpc.StatusCode.INTERNAL:
            outcome = await list_services_once(server, token)
        return outcome

    assert await list_services(open_server, None) == grpc.StatusCode.UNAUTHENTICATED
    assert "workpool.v1.WorkpoolService" in await list_services(
        open_server, CLIENT_TOKEN
    )
    assert (
        await list_services(closed_server, CLIENT_TOKEN)
        == grpc.StatusCode.UNIMPLEMENTED
    )


async def test_dashboard_api_needs_token_and_admin(start):
    server = await start(tokens=TOKENS, http_listen="127.0.0.1:0")
    base = f"http://127.0.0.1:{server.http_port}"

    def call(path: str, token: str | None = None, body: Any = None) -> int:
        request = urllib.request.Request(base + path)
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        if body is not None:
            request.data = json.dumps(body).encode()
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code

    def calls() -> dict[str, int]:
        limit = {"max_parallelism": 2}
        return {
            "metrics": call("/metrics"),
            "page": call("/"),
            "read without token": call("/api/pools"),
            "read with client": call("/api/pools", CLIENT_TOKEN),
            "act with client": call("/api/pools/default", CLIENT_TOKEN, limit),
            "act with admin": call("/api/pools/default", ADMIN_TOKEN, limit),
        }

    assert await asyncio.to_thread(calls) == {
        "metrics": 200,
        "page": 200,
        "read without token": 401,
        "read with client": 200,
        "act with client": 403,
        "act with admin": 200,
    }


# Configuration and start-up


def test_tokens_are_read_from_the_config_file(tmp_path):
    config_file = tmp_path / "workpool.toml"
    config_file.write_text(
        "[[tokens]]\n"
        'name = "app"\n'
        f'sha256 = "{hash_token(CLIENT_TOKEN)}"\n'
        'roles = ["client", "worker"]\n'
    )

    config = load_config(str(config_file), {}, environ={})

    assert config.tokens == (
        TokenEntry("app", hash_token(CLIENT_TOKEN), frozenset({"client", "worker"})),
    )


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ('name = "a"\nsha256 = "wpt_plain"\nroles = ["client"]', "tokens[0].sha256"),
        (f'name = "a"\nsha256 = "{"0" * 64}"\nroles = ["root"]', "unknown: root"),
        (f'name = "a"\nsha256 = "{"0" * 64}"\nroles = "client"', "must be a list"),
        (f'name = ""\nsha256 = "{"0" * 64}"\nroles = ["client"]', "tokens[0].name"),
        (f'sha256 = "{"0" * 64}"\nroles = ["client"]\nrole = 1', "unknown keys"),
    ],
)
def test_bad_token_entries_name_the_field(tmp_path, entry, message):
    config_file = tmp_path / "workpool.toml"
    config_file.write_text(f"[[tokens]]\n{entry}\n")

    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(str(config_file), {}, environ={})


def test_reflection_setting_reads_booleans():
    assert not load_config(None, {}, {"WORKPOOL_REFLECTION": "false"}).reflection
    assert load_config(None, {"reflection": "on"}, {}).reflection
    with pytest.raises(ConfigError, match="--reflection: invalid value 'maybe'"):
        load_config(None, {"reflection": "maybe"}, {})


@pytest.mark.parametrize(
    ("address", "loopback"),
    [
        ("127.0.0.1:50051", True),
        ("[::1]:50051", True),
        ("localhost:50051", True),
        ("0.0.0.0:50051", False),
        ("[::]:50051", False),
        ("10.1.2.3:50051", False),
        ("workpool.internal:50051", False),
    ],
)
def test_loopback_addresses(address, loopback):
    assert is_loopback(address) is loopback


async def test_listening_beyond_loopback_without_protection_warns(start, caplog):
    caplog.set_level(logging.WARNING, logger="workpool_server.app")

    await start(listen="0.0.0.0:0")

    warnings = [r for r in caplog.records if r.event == "insecure_listen"]
    assert len(warnings) == 1
    assert warnings[0].missing == "tls_cert_file,tokens"


async def test_admin_token_manages_pools_through_the_raw_api(start):
    server = await start(tokens=TOKENS)

    async with grpc.aio.insecure_channel(target(server)) as channel:
        pools = pool_service_pb2_grpc.PoolServiceStub(channel)
        reply = await pools.ListPools(
            pool_service_pb2.ListPoolsRequest(),
            metadata=[("authorization", f"bearer {ADMIN_TOKEN}")],
        )
    assert [pool.name for pool in reply.pools] == ["default"]


async def test_cli_connects_with_tls_and_a_token(start, authority):
    server = await tls_server(start, authority, tokens=TOKENS)
    command = [
        WORKPOOL_COMMAND,
        "--server",
        target(server),
        "--ca-file",
        str(authority.cert_file),
    ]

    def run(*args: str, token: str | None = None) -> subprocess.CompletedProcess:
        environ = {**os.environ, "WORKPOOL_TOKEN": token or ""}
        return subprocess.run(
            [*command, *args], capture_output=True, text=True, env=environ, timeout=60
        )

    enqueued = await asyncio.to_thread(
        run, "enqueue", "default", "noop", "{}", token=CLIENT_TOKEN
    )
    assert enqueued.returncode == 0, enqueued.stderr
    refused = await asyncio.to_thread(run, "pools", "list", token=CLIENT_TOKEN)
    assert refused.returncode == 1
    assert "lacks the role 'admin'" in refused.stderr
    listed = await asyncio.to_thread(run, "pools", "list", token=ADMIN_TOKEN)
    assert listed.returncode == 0, listed.stderr
    assert "default" in listed.stdout


def test_token_create_prints_only_the_entry_on_stdout():
    created = subprocess.run(
        [WORKPOOL_COMMAND, "token", "create", "--name", "ops", "--role", "admin"],
        capture_output=True,
        text=True,
        timeout=60,
    )

    [entry] = tomllib.loads(created.stdout)["tokens"]
    token = created.stderr.splitlines()[0].removeprefix("token: ")
    assert created.returncode == 0
    assert entry == {"name": "ops", "sha256": hash_token(token), "roles": ["admin"]}
