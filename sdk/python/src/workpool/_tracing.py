"""Optional OpenTelemetry support, active only when opentelemetry-api is
installed (the ``tracing`` extra).

The clients send the current span's W3C trace context (``traceparent``,
``tracestate``) as gRPC metadata with Enqueue and EnqueueBatch, so the server
joins the item to the caller's trace. The worker runs each handler inside a
``workpool.run`` span whose parent is the trace context of the assignment.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator, Mapping
from typing import Any

TRACER_NAME = "workpool"


@functools.cache
def _opentelemetry() -> Any:
    """Return the opentelemetry.trace module and the W3C propagator, or None
    when opentelemetry-api is not installed."""
    try:
        from opentelemetry import trace
        from opentelemetry.trace.propagation.tracecontext import (
            TraceContextTextMapPropagator,
        )
    except ImportError:
        return None
    return trace, TraceContextTextMapPropagator()


def trace_metadata() -> tuple[tuple[str, str], ...] | None:
    """Return the current span's trace context as gRPC metadata, or None when
    there is no span or no OpenTelemetry."""
    found = _opentelemetry()
    if found is None:
        return None
    _, propagator = found
    carrier: dict[str, str] = {}
    propagator.inject(carrier)
    return tuple(carrier.items()) or None


@contextlib.contextmanager
def run_span(
    tracer_provider: Any,
    trace_context: Mapping[str, str],
    attributes: Mapping[str, Any],
) -> Iterator[Any]:
    """Run the body in a ``workpool.run`` span that continues `trace_context`.

    Yields the span, or None when the assignment carries no trace context or
    OpenTelemetry is not installed. `tracer_provider` None means the global
    provider.
    """
    found = _opentelemetry() if trace_context else None
    if found is None:
        yield None
        return

    trace, propagator = found
    parent = propagator.extract(dict(trace_context))
    tracer = trace.get_tracer(TRACER_NAME, tracer_provider=tracer_provider)
    with tracer.start_as_current_span(
        "workpool.run",
        context=parent,
        kind=trace.SpanKind.CONSUMER,
        attributes=dict(attributes),
    ) as span:
        yield span


def mark_failed(span: Any, error: str) -> None:
    """Set an error status on a span from ``run_span``."""
    from opentelemetry.trace import Status, StatusCode

    span.set_status(Status(StatusCode.ERROR, error[:256]))
