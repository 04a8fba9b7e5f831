"""Assemble and run the server: database, engine, gRPC, metrics, dashboard."""

from __future__ import annotations

import asyncio
import logging
import signal
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio
from grpc_reflection.v1alpha import reflection

from workpool.v1 import (
    pool_service_pb2,
    pool_service_pb2_grpc,
    worker_service_pb2,
    worker_service_pb2_grpc,
    workpool_service_pb2,
    workpool_service_pb2_grpc,
)
from workpool_server.api.admission import StreamSlots, WriteBacklog
from workpool_server.api.convert import Limits, build_follow_up_args
from workpool_server.api.pool_service import PoolServicer
from workpool_server.api.worker_service import WorkerServicer
from workpool_server.api.workpool_service import WorkpoolServicer
from workpool_server.clock import Clock, SystemClock
from workpool_server.config import ServerConfig
from workpool_server.engine.engine import Engine, EngineSettings
from workpool_server.errors import WorkpoolError
from workpool_server.http import HttpServer, start_http_server
from workpool_server.metrics import GrpcMetricsInterceptor, Metrics
from workpool_server.security import (
    AuthInterceptor,
    TlsFiles,
    TokenTable,
    check_tls_files,
    is_loopback,
    server_credentials,
)
from workpool_server.store.database import (
    Writer,
    create_engines,
    is_sqlite,
    migrate,
    sqlalchemy_url,
)
from workpool_server.tracing import create_tracing

logger = logging.getLogger(__name__)

_SERVICES = (
    workpool_service_pb2.DESCRIPTOR.services_by_name["WorkpoolService"],
    worker_service_pb2.DESCRIPTOR.services_by_name["WorkerService"],
    pool_service_pb2.DESCRIPTOR.services_by_name["PoolService"],
)

# Clients may ping idle connections every 20 s or more, and the SDKs use 30 s.
# The server's own pings follow the keepalive_time and keepalive_timeout settings.
KEEPALIVE_OPTIONS = (
    ("grpc.http2.min_ping_interval_without_data_ms", 20_000),
    ("grpc.http2.max_ping_strikes", 0),
    ("grpc.keepalive_permit_without_calls", 1),
)


@dataclass
class RunningServer:
    """A started server; `port` is the bound gRPC port."""

    config: ServerConfig
    engine: Engine
    grpc_server: grpc.aio.Server
    writer: Writer
    metrics: Metrics
    port: int
    http_port: int | None
    _http: HttpServer | None = None
    _stopped: bool = False

    async def stop(self, grace_seconds: float | None = None) -> None:
        """Stop dispatch at once, let workers report for up to the grace
        period, end every stream with UNAVAILABLE, then close."""
        if self._stopped:
            return
        self._stopped = True
        grace = (
            self.config.shutdown_grace_us / 1_000_000
            if grace_seconds is None
            else grace_seconds
        )
        logger.info("server stopping", extra={"event": "server_stopping"})
        self.engine.begin_shutdown()
        await self.engine.drain(grace)
        await self.grpc_server.stop(1.0)
        if self._http is not None:
            # Stop HTTP before the engine closes, so no dashboard call reaches
            # a closed engine. Stop it on a thread, because requests in flight
            # need this loop.
            await asyncio.to_thread(self._http.shutdown)
        await self.engine.close()
        self.engine.tracing.shutdown()
        self.writer.stop()
        logger.info("server stopped", extra={"event": "server_stopped"})


async def start_server(
    config: ServerConfig, clock: Clock | None = None, tracer_provider: Any = None
) -> RunningServer:
    """Start the server. A `tracer_provider` turns tracing on with that
    provider, whatever the `tracing` setting is."""
    tls_files = None
    if config.tls_cert_file:
        tls_files = TlsFiles(
            cert_file=config.tls_cert_file,
            key_file=config.tls_key_file,
            client_ca_file=config.tls_client_ca_file,
        )
        # Before the database opens, so that a bad file leaves nothing to undo.
        check_tls_files(tls_files)

    sqlite = is_sqlite(config.database_url)
    # On PostgreSQL the database's clock judges time, unless a test injects
    # its own clock.
    database_clock = not sqlite and clock is None
    clock = clock or SystemClock()
    writer_engine, reader_engine = create_engines(
        config.database_url,
        sqlite_synchronous=config.sqlite_synchronous.upper(),
        sqlite_busy_timeout_ms=config.sqlite_busy_timeout_us // 1000,
    )
    await asyncio.to_thread(migrate, writer_engine)
    writer = Writer(writer_engine)
    writer.start()

    metrics = Metrics(max_pool_labels=config.max_pool_labels)
    engine = Engine(
        settings=EngineSettings(
            lease_us=config.lease_us,
            heartbeat_interval_us=config.heartbeat_interval_us,
            completion_retention_us=config.completion_retention_us,
            lock_rows=not sqlite,
            database_clock=database_clock,
            replicated=not sqlite,
            completion_buffer=config.completion_buffer,
        ),
        writer=writer,
        reader=reader_engine,
        clock=clock,
        metrics=metrics,
        build_follow_up_args=build_follow_up_args,
    )
    if not sqlite:
        engine.enable_replication(sqlalchemy_url(config.database_url))
    engine.tracing = create_tracing(config.tracing, tracer_provider)
    try:
        for pool in config.pools:
            await engine.put_pool(pool)
    except WorkpoolError:
        # A [[pools]] entry the store rejects, such as a parent that is not
        # declared: stop the writer so the error reaches the caller alone.
        await engine.close()
        writer.stop()
        raise
    if sqlite:
        # One process owns a SQLite file, so every lease still held was
        # handed out by an earlier process whose streams are gone.
        await engine.recover_orphaned_leases()
    await engine.start()

    known_methods = {
        f"/{service.full_name}/{method.name}"
        for service in _SERVICES
        for method in service.methods
    }
    interceptors: list[grpc.aio.ServerInterceptor] = [
        GrpcMetricsInterceptor(metrics, known_methods)
    ]
    if config.tokens:
        interceptors.append(
            AuthInterceptor(
                TokenTable(config.tokens),
                on_denied=lambda method, reason: metrics.auth_denied.labels(
                    reason
                ).inc(),
            )
        )
    server = grpc.aio.server(
        interceptors=interceptors,
        options=[
            ("grpc.max_receive_message_length", config.max_message_bytes),
            ("grpc.max_send_message_length", config.max_message_bytes),
            # gRPC shares a port between processes by default, so a second
            # server on a busy port would start and take part of its calls.
            ("grpc.so_reuseport", 0),
            *KEEPALIVE_OPTIONS,
            *_keepalive_pings(config),
        ],
    )
    limits = Limits(
        max_payload_bytes=config.max_payload_bytes,
        max_batch_size=config.max_batch_size,
    )
    workpool_service_pb2_grpc.add_WorkpoolServiceServicer_to_server(
        WorkpoolServicer(
            engine,
            limits,
            watch_slots=StreamSlots("max_watch_streams", config.max_watch_streams),
            write_backlog=WriteBacklog(lambda: writer.queued, config.max_queued_writes),
        ),
        server,
    )
    worker_service_pb2_grpc.add_WorkerServiceServicer_to_server(
        WorkerServicer(
            engine,
            limits,
            stream_slots=StreamSlots("max_worker_streams", config.max_worker_streams),
        ),
        server,
    )
    pool_service_pb2_grpc.add_PoolServiceServicer_to_server(
        PoolServicer(engine), server
    )

    health = health_aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    for service in _SERVICES:
        await health.set(service.full_name, health_pb2.HealthCheckResponse.SERVING)
    await health.set("", health_pb2.HealthCheckResponse.SERVING)
    if config.reflection:
        reflection.enable_server_reflection(
            [service.full_name for service in _SERVICES]
            + [
                health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
                reflection.SERVICE_NAME,
            ],
            server,
        )

    try:
        if tls_files is not None:
            credentials = server_credentials(tls_files)
            port = server.add_secure_port(config.listen, credentials)
        else:
            port = server.add_insecure_port(config.listen)
    except RuntimeError:
        # grpcio raises RuntimeError where older versions returned port 0.
        port = 0
    if port == 0:
        await engine.close()
        writer.stop()
        raise OSError(
            f"listen: cannot bind {config.listen}: the port is in use or the "
            "address is not one of this host's"
        )
    await server.start()
    _warn_if_exposed(config)

    http_server = None
    http_port = None
    if config.http_listen:
        try:
            http_server = start_http_server(
                config.http_listen,
                engine,
                metrics.registry,
                asyncio.get_running_loop(),
                tokens=TokenTable(config.tokens),
            )
        except OSError as error:
            await server.stop(0)
            await engine.close()
            writer.stop()
            raise OSError(
                f"http_listen: cannot bind {config.http_listen}: {error.strerror}; "
                "choose a free port, or an empty value to turn HTTP off"
            ) from None
        http_port = http_server.server_port

    logger.info(
        "server started",
        extra={
            "event": "server_started",
            "listen": config.listen,
            "port": port,
            "http_port": http_port,
            "database": _redact(config.database_url),
        },
    )
    return RunningServer(
        config=config,
        engine=engine,
        grpc_server=server,
        writer=writer,
        metrics=metrics,
        port=port,
        http_port=http_port,
        _http=http_server,
    )


def _keepalive_pings(config: ServerConfig) -> list[tuple[str, int]]:
    """Return the options for the server's own pings.

    A connection whose ping goes unanswered for keepalive_timeout is closed,
    which ends its streams, so a worker behind a dead network path loses its
    leases within keepalive_time plus keepalive_timeout.
    """
    timeout_ms = max(1, config.keepalive_timeout_us // 1000)
    return [
        ("grpc.keepalive_time_ms", max(1, config.keepalive_time_us // 1000)),
        ("grpc.keepalive_timeout_ms", timeout_ms),
        # gRPC core 1.85 waits for a ping's ack for the longer of this and the
        # keepalive timeout, and this one defaults to 60 s.
        ("grpc.http2.ping_timeout_ms", timeout_ms),
    ]


def _warn_if_exposed(config: ServerConfig) -> None:
    """Warn when the ports reach beyond this host without TLS or tokens."""
    if not is_loopback(config.listen):
        missing = [
            name
            for name, present in (
                ("tls_cert_file", bool(config.tls_cert_file)),
                ("tokens", bool(config.tokens)),
            )
            if not present
        ]
        if missing:
            logger.warning(
                "listening beyond loopback without transport security or tokens",
                extra={
                    "event": "insecure_listen",
                    "listen": config.listen,
                    "missing": ",".join(missing),
                },
            )
    if config.http_listen and not is_loopback(config.http_listen):
        logger.warning(
            "http listener reaches beyond loopback",
            extra={
                "event": "http_exposed",
                "http_listen": config.http_listen,
                "tokens": bool(config.tokens),
            },
        )


def _redact(url: str) -> str:
    """Hide a password in a database URL before logging it."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at or ":" not in credentials:
        return url
    user = credentials.split(":", 1)[0]
    return f"{scheme}{sep}{user}:***@{host}"


async def serve(config: ServerConfig) -> None:
    """Run until SIGINT or SIGTERM, then shut down gracefully."""
    running = await start_server(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    await running.stop()
