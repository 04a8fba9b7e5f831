"""OpenTelemetry tracing: one trace from the caller's span through enqueue,
dispatch, the worker's handler and the completion, on a real server, SDK
client and SDK worker, with the OpenTelemetry SDK's in-memory exporter."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)
from opentelemetry.trace import SpanKind, StatusCode

from tests.conftest import eventually
from workpool import AsyncClient, NonRetryableError, Worker, WorkState


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def tracer_provider(exporter) -> TracerProvider:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider
    provider.shutdown()


@pytest.fixture
async def traced_target(make_server, tracer_provider) -> str:
    server = await make_server(tracer_provider=tracer_provider)
    return f"127.0.0.1:{server.port}"


async def run_one_item(target, tracer_provider, handler) -> tuple[str, int]:
    """Enqueue one item inside a client span and run it on an SDK worker;
    return the item's id and the client span's id."""
    worker = Worker(target, pools=["jobs"], capacity=1, tracer_provider=tracer_provider)
    worker.register("job", handler)
    tracer = tracer_provider.get_tracer("test-client")
    async with AsyncClient(target) as client:
        await client.create_pool("jobs")
        with tracer.start_as_current_span("client.submit") as client_span:
            work_id = await client.enqueue("jobs", "job", {"n": 1})
        run = asyncio.create_task(worker.run_async())
        try:

            async def finished() -> bool:
                status = await client.status(work_id)
                return status.state is WorkState.FINISHED

            await eventually(finished, message=f"{work_id} to finish")
        finally:
            await worker.stop()
            await run
    return work_id, client_span.get_span_context().span_id


def spans_named(exporter, name: str) -> list:
    return [span for span in exporter.get_finished_spans() if span.name == name]


async def wait_for_span(exporter, name: str) -> None:
    await eventually(lambda: spans_named(exporter, name), message=f"span {name}")


async def test_one_trace_from_client_to_completion(
    traced_target, tracer_provider, exporter
):
    async def handler(context, args):
        return {"doubled": args["n"] * 2}

    work_id, client_span_id = await run_one_item(
        traced_target, tracer_provider, handler
    )
    await wait_for_span(exporter, "workpool.complete")

    [client] = spans_named(exporter, "client.submit")
    [enqueue] = spans_named(exporter, "workpool.enqueue")
    [dispatch] = spans_named(exporter, "workpool.dispatch")
    [run] = spans_named(exporter, "workpool.run")
    [complete] = spans_named(exporter, "workpool.complete")
    trace_id = client.context.trace_id
    for span in (enqueue, dispatch, run, complete):
        assert span.context.trace_id == trace_id, span.name
    assert client.context.span_id == client_span_id
    assert enqueue.parent.span_id == client.context.span_id
    assert dispatch.parent.span_id == enqueue.context.span_id
    assert run.parent.span_id == dispatch.context.span_id
    assert complete.parent.span_id == dispatch.context.span_id
    assert enqueue.kind is SpanKind.SERVER
    assert dispatch.kind is SpanKind.PRODUCER
    assert run.kind is SpanKind.CONSUMER
    assert dispatch.attributes["messaging.message.id"] == work_id
    assert dispatch.attributes["workpool.attempt"] == 1
    assert run.attributes["messaging.message.id"] == work_id
    assert complete.attributes["workpool.outcome"] == "success"


async def test_failed_handler_marks_spans(traced_target, tracer_provider, exporter):
    def handler(context, args):
        raise NonRetryableError("no such mailbox")

    await run_one_item(traced_target, tracer_provider, handler)
    await wait_for_span(exporter, "workpool.complete")

    [run] = spans_named(exporter, "workpool.run")
    [complete] = spans_named(exporter, "workpool.complete")
    assert run.status.status_code is StatusCode.ERROR
    assert "no such mailbox" in run.status.description
    assert complete.status.status_code is StatusCode.ERROR
    assert complete.attributes["workpool.outcome"] == "failure"


async def test_untraced_server_sends_no_trace_context(
    make_server, tracer_provider, exporter
):
    server = await make_server()
    target = f"127.0.0.1:{server.port}"

    async def handler(context, args):
        return None

    await run_one_item(target, tracer_provider, handler)

    names = sorted(span.name for span in exporter.get_finished_spans())
    assert names == ["client.submit"]


# The server with tracing off, in a process of its own, so that this test
# process's OpenTelemetry imports do not count.
UNTRACED_SERVER = textwrap.dedent(
    """
    import asyncio, sys, tempfile
    from workpool_server.app import start_server
    from workpool_server.config import ServerConfig

    async def main():
        folder = tempfile.mkdtemp()
        config = ServerConfig(
            database_url=f"sqlite:///{folder}/workpool.db",
            listen="127.0.0.1:0",
            http_listen="",
        ).validate()
        server = await start_server(config)
        await server.stop(grace_seconds=0)
        loaded = sorted(name for name in sys.modules if "opentelemetry" in name)
        print(loaded)

    asyncio.run(main())
    """
)


def test_tracing_off_imports_no_opentelemetry():
    completed = subprocess.run(
        [sys.executable, "-c", UNTRACED_SERVER],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "[]"


class CollectorHandler(BaseHTTPRequestHandler):
    """Stores each OTLP/HTTP export request in `server.exports`."""

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.exports.append((self.path, body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format, *args) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[ThreadingHTTPServer]:
    """A stand-in OTLP/HTTP collector on a loopback port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), CollectorHandler)
    server.exports = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    thread.join(10)
    server.server_close()


def exported_spans(collector) -> list:
    spans = []
    for path, body in collector.exports:
        assert path == "/v1/traces"
        request = ExportTraceServiceRequest.FromString(body)
        for resource_spans in request.resource_spans:
            attributes = {
                item.key: item.value.string_value
                for item in resource_spans.resource.attributes
            }
            for scope_spans in resource_spans.scope_spans:
                spans.extend((attributes, span) for span in scope_spans.spans)
    return spans


async def test_otlp_setting_exports_spans(spawn_server, collector, tracer_provider):
    endpoint = f"http://127.0.0.1:{collector.server_address[1]}"
    server = await spawn_server(
        "--tracing",
        "otlp",
        env={
            "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
            # Export after 100 ms instead of the default 5 s.
            "OTEL_BSP_SCHEDULE_DELAY": "100",
        },
    ).wait_ready()
    tracer = tracer_provider.get_tracer("test-client")

    async with AsyncClient(server.target) as client:
        await client.create_pool("jobs")
        with tracer.start_as_current_span("client.submit") as client_span:
            await client.enqueue("jobs", "job")

    def enqueue_spans() -> list:
        return [
            (resource, span)
            for resource, span in exported_spans(collector)
            if span.name == "workpool.enqueue"
        ]

    await eventually(enqueue_spans, message="an exported workpool.enqueue span")
    [(resource, span)] = enqueue_spans()
    client_context = client_span.get_span_context()
    assert resource["service.name"] == "workpool-server"
    assert int.from_bytes(span.trace_id, "big") == client_context.trace_id
    assert int.from_bytes(span.parent_span_id, "big") == client_context.span_id
