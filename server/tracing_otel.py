"""OpenTelemetry spans of the server: enqueue, dispatch and completion.

Imported only when tracing is on (see `tracing.create_tracing`). The trace of
one item reads:

    caller's span (W3C traceparent in the gRPC metadata)
      workpool.enqueue      Enqueue or EnqueueBatch, stored with each item
        workpool.dispatch   one per attempt; its context goes to the worker
          workpool.run      the worker's run of the handler (Python SDK)
          workpool.complete the server recording the attempt's result

Span timestamps come from OpenTelemetry's own clock, not the injected clock,
because they describe real time for a trace viewer and drive no decision.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import json
import logging
import os
from collections.abc import Iterator, Sequence
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from sqlalchemy import Connection

from workpool_server.engine.model import (
    Assignment,
    AttemptReport,
    ResultAck,
    ResultKind,
)
from workpool_server.store import attempts as attempt_history
from workpool_server.tracing import Tracing

logger = logging.getLogger(__name__)

TRACER_NAME = "workpool_server"
SERVICE_NAME = "workpool-server"
TRACE_HEADERS = ("traceparent", "tracestate")
# Size of the work.trace_context column. A context that does not fit keeps its
# traceparent and drops its tracestate, which W3C Trace Context lets a
# system truncate (it requires keeping at least 512 characters).
MAX_STORED_CONTEXT = 1024
# Dispatch contexts kept for the completion spans of running attempts. An
# attempt whose result never reaches this process (lease expiry, another
# replica) leaves its entry until newer ones push it out.
MAX_OPEN_DISPATCHES = 100_000
MAX_ERROR_DESCRIPTION = 256

_PROPAGATOR = TraceContextTextMapPropagator()


class OpenTelemetryTracing(Tracing):
    enabled = True

    def __init__(self, tracer_provider: Any, owns_provider: bool) -> None:
        self._provider = tracer_provider
        self._owns_provider = owns_provider
        self._tracer = tracer_provider.get_tracer(TRACER_NAME)
        self._dispatches: collections.OrderedDict[tuple[str, int], Context] = (
            collections.OrderedDict()
        )

    @classmethod
    def create(cls, mode: str, tracer_provider: Any = None) -> OpenTelemetryTracing:
        """Use `tracer_provider`, or build one that exports OTLP over HTTP.

        The exporter reads the standard OTEL_EXPORTER_OTLP_* variables, such
        as OTEL_EXPORTER_OTLP_ENDPOINT (default http://localhost:4318).
        """
        if tracer_provider is not None:
            return cls(tracer_provider, owns_provider=False)

        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
            OTLPSpanExporter,
        )
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        # OTEL_SERVICE_NAME, when set, names the service instead.
        attributes = {}
        if not os.environ.get("OTEL_SERVICE_NAME"):
            attributes["service.name"] = SERVICE_NAME
        provider = TracerProvider(resource=Resource.create(attributes))
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        logger.info("tracing started", extra={"event": "tracing_started", "mode": mode})
        return cls(provider, owns_provider=True)

    @contextlib.contextmanager
    def enqueue_span(
        self, metadata: Sequence[tuple[str, Any]] | None, pool: str, count: int
    ) -> Iterator[str | None]:
        carrier = {
            key: value
            for key, value in metadata or ()
            if key in TRACE_HEADERS and isinstance(value, str)
        }
        parent = _PROPAGATOR.extract(carrier)
        with self._tracer.start_as_current_span(
            "workpool.enqueue",
            context=parent,
            kind=SpanKind.SERVER,
            attributes={
                "messaging.system": "workpool",
                "messaging.operation.type": "send",
                "messaging.destination.name": pool,
                "messaging.batch.message_count": count,
            },
        ) as span:
            yield _to_json(trace.set_span_in_context(span))

    def stored_contexts(
        self, connection: Connection, assignments: Sequence[Assignment]
    ) -> dict[str, str]:
        work_ids = [assignment.work_id for assignment in assignments]
        return attempt_history.read_trace_contexts(connection, work_ids)

    def dispatch(
        self, assignments: list[Assignment], stored: dict[str, str]
    ) -> list[Assignment]:
        traced: list[Assignment] = []
        for assignment in assignments:
            parent = _from_json(stored.get(assignment.work_id))
            if parent is None:
                traced.append(assignment)
                continue

            span = self._tracer.start_span(
                "workpool.dispatch",
                context=parent,
                kind=SpanKind.PRODUCER,
                attributes=_attempt_attributes(assignment),
            )
            span.end()
            context = trace.set_span_in_context(span)
            self._remember(assignment.work_id, assignment.attempt, context)
            carrier: dict[str, str] = {}
            _PROPAGATOR.inject(carrier, context=context)
            traced.append(dataclasses.replace(assignment, trace_context=carrier))
        return traced

    def complete(
        self, worker_id: str, reports: Sequence[AttemptReport], acks: list[ResultAck]
    ) -> None:
        accepted = {(ack.work_id, ack.attempt) for ack in acks if ack.accepted}
        for report in reports:
            key = (report.work_id, report.attempt)
            if key not in accepted:
                continue
            # TODO: attempts that end by lease expiry or a lost worker get no
            # completion span, so their traces end at the dispatch span.
            parent = self._dispatches.pop(key, None)
            if parent is None:
                continue

            outcome = report.outcome
            span = self._tracer.start_span(
                "workpool.complete",
                context=parent,
                kind=SpanKind.INTERNAL,
                attributes={
                    "messaging.system": "workpool",
                    "messaging.message.id": report.work_id,
                    "workpool.attempt": report.attempt,
                    "workpool.worker_id": worker_id,
                    "workpool.outcome": outcome.kind.name.lower(),
                },
            )
            if outcome.kind is ResultKind.FAILURE:
                span.set_status(
                    Status(StatusCode.ERROR, outcome.error[:MAX_ERROR_DESCRIPTION])
                )
            span.end()

    def shutdown(self) -> None:
        # A provider passed in belongs to the caller, who shuts it down.
        if self._owns_provider:
            self._provider.shutdown()

    def _remember(self, work_id: str, attempt: int, context: Context) -> None:
        self._dispatches[(work_id, attempt)] = context
        while len(self._dispatches) > MAX_OPEN_DISPATCHES:
            self._dispatches.popitem(last=False)


def _attempt_attributes(assignment: Assignment) -> dict[str, Any]:
    return {
        "messaging.system": "workpool",
        "messaging.operation.type": "send",
        "messaging.destination.name": assignment.pool,
        "messaging.message.id": assignment.work_id,
        "workpool.function": assignment.function,
        "workpool.attempt": assignment.attempt,
        "workpool.worker_id": assignment.lease_owner,
    }


def _to_json(context: Context) -> str | None:
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier, context=context)
    if not carrier:
        return None
    text = json.dumps(carrier, separators=(",", ":"))
    if len(text) > MAX_STORED_CONTEXT:
        text = json.dumps({"traceparent": carrier["traceparent"]})
    return text


def _from_json(text: str | None) -> Context | None:
    if not text:
        return None
    try:
        carrier = json.loads(text)
    except ValueError:
        return None
    if not isinstance(carrier, dict):
        return None
    return _PROPAGATOR.extract(carrier)
