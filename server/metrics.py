"""Prometheus metrics: gRPC server metrics and workpool queue metrics.

Labels never hold ids, args or error texts. Only the first `max_pool_labels`
distinct pool names get series of their own. The rest share the label value
"_other", so that many pools cannot grow the series count without bound.
Function names, which workers choose, are bounded the same way by
`max_function_labels`. docs/metrics.md lists every metric.
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from workpool_server.api.decoding import guard

OTHER_POOLS = "_other"
OTHER_FUNCTIONS = "_other"
DEFAULT_MAX_POOL_LABELS = 200
DEFAULT_MAX_FUNCTION_LABELS = 500

_LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1, 2.5, 5, 10, 30, 60, 300, 900, 3600,
)  # fmt: skip


class Metrics:
    def __init__(
        self,
        max_pool_labels: int = DEFAULT_MAX_POOL_LABELS,
        max_function_labels: int = DEFAULT_MAX_FUNCTION_LABELS,
    ) -> None:
        self.registry = CollectorRegistry()
        self._max_pool_labels = max_pool_labels
        self._pool_labels: set[str] = set()
        self._max_function_labels = max_function_labels
        self._function_labels: set[str] = set()
        self._lock = threading.Lock()
        registry = self.registry

        self.auth_denied = Counter(
            "workpool_auth_denied",
            "gRPC calls refused for a missing or unknown token or a missing role.",
            ["reason"],
            registry=registry,
        )
        self.enqueued = Counter(
            "workpool_enqueued",
            "Work items accepted, follow-ups included.",
            ["pool"],
            registry=registry,
        )
        self.started = Counter(
            "workpool_started", "Attempts started.", ["pool"], registry=registry
        )
        self.completed = Counter(
            "workpool_completed",
            "Work items finished, by final result.",
            ["pool", "result"],
            registry=registry,
        )
        self.retries = Counter(
            "workpool_retries",
            "Failed attempts scheduled to run again.",
            ["pool"],
            registry=registry,
        )
        self.pending = Gauge(
            "workpool_pending",
            "Work items waiting to start, delayed ones included.",
            ["pool"],
            registry=registry,
        )
        self.running = Gauge(
            "workpool_running", "Work items leased to workers.", ["pool"],
            registry=registry,
        )  # fmt: skip
        self.oldest_ready_age = Gauge(
            "workpool_oldest_ready_age_seconds",
            "Age of the oldest item that is ready to start but has not.",
            ["pool"],
            registry=registry,
        )
        self.max_parallelism = Gauge(
            "workpool_pool_max_parallelism",
            "The pool's max_parallelism setting; pools sharing _other are summed.",
            ["pool"],
            registry=registry,
        )
        self.circuit_state = Gauge(
            "workpool_pool_circuit_state",
            "State of the pool's circuit breaker: 0 closed or none, 1 open, "
            "2 half-open; pools sharing _other report the highest.",
            ["pool"],
            registry=registry,
        )
        self.start_lag = Histogram(
            "workpool_start_lag_seconds",
            "Time from an attempt's ready time to its start.",
            ["pool"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.run_duration = Histogram(
            "workpool_run_duration_seconds",
            "Time from an attempt's start to its recorded result.",
            ["pool"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.workers = Gauge(
            "workpool_workers", "Connected worker streams.", registry=registry
        )
        self.workers_connected = Gauge(
            "workpool_workers_connected",
            "Connected worker streams that serve the function in the pool.",
            ["pool", "function"],
            registry=registry,
        )
        self.worker_slots_free = Gauge(
            "workpool_worker_slots_free",
            "Free slots (credits) of the connected workers that serve the pool.",
            ["pool"],
            registry=registry,
        )
        self.desired_workers = Gauge(
            "workpool_desired_workers",
            "Estimated workers needed to drain the ready backlog in 60 s while "
            "keeping up with the current start rate.",
            ["pool"],
            registry=registry,
        )
        self.watchers = Gauge(
            "workpool_watch_subscribers",
            "Open WatchCompletions streams.",
            registry=registry,
        )
        self.grpc_started = Counter(
            "grpc_server_started",
            "RPCs started on the server.",
            ["grpc_type", "grpc_service", "grpc_method"],
            registry=registry,
        )
        self.grpc_handled = Counter(
            "grpc_server_handled",
            "RPCs completed on the server, by status code.",
            ["grpc_type", "grpc_service", "grpc_method", "grpc_code"],
            registry=registry,
        )
        self.grpc_received = Counter(
            "grpc_server_msg_received",
            "Stream messages received by the server.",
            ["grpc_type", "grpc_service", "grpc_method"],
            registry=registry,
        )
        self.grpc_sent = Counter(
            "grpc_server_msg_sent",
            "Stream messages sent by the server.",
            ["grpc_type", "grpc_service", "grpc_method"],
            registry=registry,
        )
        self.grpc_handling = Histogram(
            "grpc_server_handling_seconds",
            "Time from the start of an RPC to its end on the server.",
            ["grpc_type", "grpc_service", "grpc_method"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )

    def pool_labels_seen(self) -> set[str]:
        with self._lock:
            labels = set(self._pool_labels)
        if len(labels) >= self._max_pool_labels:
            labels.add(OTHER_POOLS)
        return labels

    def pool(self, name: str) -> str:
        """Return the label value for a pool name."""
        if name in self._pool_labels:
            return name
        with self._lock:
            if len(self._pool_labels) < self._max_pool_labels:
                self._pool_labels.add(name)
                return name
        return OTHER_POOLS

    def function(self, name: str) -> str:
        """Return the label value for a function name."""
        if name in self._function_labels:
            return name
        with self._lock:
            if len(self._function_labels) < self._max_function_labels:
                self._function_labels.add(name)
                return name
        return OTHER_FUNCTIONS


class GrpcMetricsInterceptor(grpc.aio.ServerInterceptor):
    """Record the standard grpc_server_* metrics for every known method.

    The handlers it rebuilds also decode requests with `guard`, so that an
    undecodable message reaches the servicer as an UndecodableRequest.
    """

    def __init__(self, metrics: Metrics, known_methods: set[str]) -> None:
        self._metrics = metrics
        self._known = known_methods

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Any]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Any:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or method not in self._known:
            return handler

        service, _, name = method.lstrip("/").rpartition("/")
        if handler.request_streaming and handler.response_streaming:
            kind = "bidi_stream"
        elif handler.request_streaming:
            kind = "client_stream"
        elif handler.response_streaming:
            kind = "server_stream"
        else:
            kind = "unary"
        labels = (kind, service, name)
        return _wrap_handler(handler, self._metrics, labels)


def _code_of(context: grpc.aio.ServicerContext, error: BaseException | None) -> str:
    code = context.code()
    if isinstance(code, grpc.StatusCode):
        return code.name
    if error is None:
        return "OK"
    if isinstance(error, grpc.aio.AbortError):
        return "UNKNOWN"
    return "CANCELLED" if isinstance(error, BaseException) else "UNKNOWN"


def _wrap_handler(handler: Any, metrics: Metrics, labels: tuple[str, str, str]) -> Any:
    def count_requests(requests: AsyncIterator[Any]) -> AsyncIterator[Any]:
        # The labelled child is looked up once per call, not per message.
        received = metrics.grpc_received.labels(*labels)

        async def counted() -> AsyncIterator[Any]:
            async for request in requests:
                received.inc()
                yield request

        return counted()

    def finish(context: Any, started: float, error: BaseException | None) -> None:
        metrics.grpc_handled.labels(*labels, _code_of(context, error)).inc()
        metrics.grpc_handling.labels(*labels).observe(time.perf_counter() - started)

    if handler.unary_unary:
        inner = handler.unary_unary

        async def unary_unary(request: Any, context: Any) -> Any:
            metrics.grpc_started.labels(*labels).inc()
            metrics.grpc_received.labels(*labels).inc()
            started = time.perf_counter()
            error: BaseException | None = None
            try:
                response = await inner(request, context)
                metrics.grpc_sent.labels(*labels).inc()
                return response
            except BaseException as caught:
                error = caught
                raise
            finally:
                finish(context, started, error)

        return grpc.unary_unary_rpc_method_handler(
            unary_unary,
            request_deserializer=guard(handler.request_deserializer),
            response_serializer=handler.response_serializer,
        )

    streaming_inner = handler.unary_stream or handler.stream_stream

    async def streaming(request: Any, context: Any) -> AsyncIterator[Any]:
        metrics.grpc_started.labels(*labels).inc()
        if handler.request_streaming:
            request = count_requests(request)
        else:
            metrics.grpc_received.labels(*labels).inc()
        started = time.perf_counter()
        sent = metrics.grpc_sent.labels(*labels)
        error: BaseException | None = None
        try:
            async for response in streaming_inner(request, context):
                sent.inc()
                yield response
        except BaseException as caught:
            error = caught
            raise
        finally:
            finish(context, started, error)

    factory = (
        grpc.stream_stream_rpc_method_handler
        if handler.request_streaming
        else grpc.unary_stream_rpc_method_handler
    )
    return factory(
        streaming,
        request_deserializer=guard(handler.request_deserializer),
        response_serializer=handler.response_serializer,
    )
