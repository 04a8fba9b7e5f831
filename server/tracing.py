"""Optional OpenTelemetry tracing of enqueue, dispatch and completion.

This module imports nothing from OpenTelemetry. `create_tracing` returns the
inert `Tracing` below unless tracing is configured, so a server with tracing
off neither imports the OpenTelemetry packages nor pays for spans. The real
implementation is in `tracing_otel`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Connection

from workpool_server.engine.model import Assignment, AttemptReport, ResultAck

TRACING_MODES = ("off", "otlp")


class Tracing:
    """Tracing that is off: every hook returns at once and records nothing."""

    enabled = False

    @contextlib.contextmanager
    def enqueue_span(
        self, metadata: Sequence[tuple[str, Any]] | None, pool: str, count: int
    ) -> Iterator[str | None]:
        """Wrap an Enqueue or EnqueueBatch call; yield the trace context to
        store with its items, as JSON, or None."""
        yield None

    def stored_contexts(
        self, connection: Connection, assignments: Sequence[Assignment]
    ) -> dict[str, str]:
        """Read the stored trace contexts of the items just claimed."""
        return {}

    def dispatch(
        self, assignments: list[Assignment], stored: dict[str, str]
    ) -> list[Assignment]:
        """Record a dispatch span per assignment and return the assignments
        with the span's context to send to the worker."""
        return assignments

    def complete(
        self, worker_id: str, reports: Sequence[AttemptReport], acks: list[ResultAck]
    ) -> None:
        """Record a completion span per accepted result."""

    def shutdown(self) -> None:
        """Export the spans still buffered."""


def create_tracing(mode: str, tracer_provider: Any = None) -> Tracing:
    """Return the tracing for the `tracing` setting.

    A `tracer_provider` turns tracing on with that provider, whatever the
    mode, so that tests and embedding programs can export spans their way.

    Raises:
        RuntimeError: tracing is on but the OpenTelemetry packages are missing.
    """
    if tracer_provider is None and mode == "off":
        return Tracing()
    try:
        from workpool_server.tracing_otel import OpenTelemetryTracing
    except ImportError as error:
        raise RuntimeError(
            f"tracing: {mode!r} needs the OpenTelemetry packages, which are not "
            f"installed ({error}): install workpool-server[tracing], or set "
            "tracing = off"
        ) from error
    return OpenTelemetryTracing.create(mode, tracer_provider)
