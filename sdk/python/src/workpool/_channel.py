"""Channel settings shared by the clients and the worker."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, NamedTuple

import grpc

MAX_MESSAGE_BYTES = 64 * 1024 * 1024
KEEPALIVE_TIMEOUT_OPTION = "grpc.keepalive_timeout_ms"
PING_TIMEOUT_OPTION = "grpc.http2.ping_timeout_ms"

# The server accepts keepalive pings every 20 s even without active calls. A
# 30 s interval stays above that minimum, so the server never closes the
# connection with GOAWAY "too_many_pings". The pings let an idle watch or
# worker stream notice a dead connection within about 40 s (interval plus
# timeout) instead of waiting for TCP to time out.
DEFAULT_CHANNEL_OPTIONS: tuple[tuple[str, Any], ...] = (
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    # gRPC core (1.85) waits for a ping's ack for the longer of the keepalive
    # timeout and this one, which defaults to 60 s.
    ("grpc.http2.ping_timeout_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_pings_without_data", 0),
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
)

# Deadline of unary calls unless the caller passes another timeout.
DEFAULT_RPC_TIMEOUT = timedelta(seconds=30)

ChannelOptions = Sequence[tuple[str, Any]]


def channel_options(extra: ChannelOptions | None) -> list[tuple[str, Any]]:
    """Merge the default options with the caller's; the caller's win.

    A caller's grpc.keepalive_timeout_ms also sets the ping timeout, unless
    the caller sets that too, because gRPC core waits for the longer of the two.
    """
    caller_options = dict(extra or ())
    merged = dict(DEFAULT_CHANNEL_OPTIONS)
    merged.update(caller_options)
    if (
        KEEPALIVE_TIMEOUT_OPTION in caller_options
        and PING_TIMEOUT_OPTION not in caller_options
    ):
        merged[PING_TIMEOUT_OPTION] = caller_options[KEEPALIVE_TIMEOUT_OPTION]
    return list(merged.items())


def tls_credentials(
    ca_file: str | Path | None = None,
    cert_file: str | Path | None = None,
    key_file: str | Path | None = None,
) -> grpc.ChannelCredentials:
    """TLS credentials from PEM files, for ``credentials=``.

    ``ca_file`` is the CA that signed the server's certificate; None trusts
    the system's roots. ``cert_file`` and ``key_file`` are the client's
    certificate and key for a server that requires mutual TLS.
    """
    if (cert_file is None) != (key_file is None):
        raise ValueError("cert_file, key_file: pass both for mutual TLS, or neither")
    return grpc.ssl_channel_credentials(
        root_certificates=_read(ca_file, "ca_file"),
        private_key=_read(key_file, "key_file"),
        certificate_chain=_read(cert_file, "cert_file"),
    )


def _read(path: str | Path | None, name: str) -> bytes | None:
    if path is None:
        return None
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise ValueError(
            f"{name}: cannot read {str(path)!r}: {error.strerror}"
        ) from None


def sync_channel(
    target: str,
    *,
    credentials: grpc.ChannelCredentials | None,
    options: ChannelOptions | None,
    token: str | None = None,
) -> grpc.Channel:
    """Open a sync channel, secure when credentials are given."""
    _check_target(target)
    if credentials is None:
        channel = grpc.insecure_channel(target, options=channel_options(options))
    else:
        channel = grpc.secure_channel(
            target, credentials, options=channel_options(options)
        )
    if token is None:
        return channel
    return grpc.intercept_channel(channel, _SyncBearer(_check_token(token)))


def aio_channel(
    target: str,
    *,
    credentials: grpc.ChannelCredentials | None,
    options: ChannelOptions | None,
    token: str | None = None,
) -> grpc.aio.Channel:
    """Open an asyncio channel, secure when credentials are given."""
    _check_target(target)
    interceptors = None if token is None else _aio_bearers(_check_token(token))
    if credentials is None:
        return grpc.aio.insecure_channel(
            target, options=channel_options(options), interceptors=interceptors
        )
    return grpc.aio.secure_channel(
        target,
        credentials,
        options=channel_options(options),
        interceptors=interceptors,
    )


def _check_token(token: Any) -> str:
    if (
        not isinstance(token, str)
        or not token
        or not token.isascii()
        or not token.isprintable()
        or any(c.isspace() for c in token)
    ):
        raise ValueError(
            "token: must be a non-empty string of printable ASCII without spaces, "
            "as made by `workpool token create`"
        )
    return token


# Bearer tokens travel as metadata added by an interceptor rather than as
# call credentials, because gRPC sends call credentials only over TLS, and a
# server on loopback may use tokens without TLS.


class _SyncDetails(NamedTuple):
    method: str
    timeout: float | None
    metadata: Any
    credentials: Any
    wait_for_ready: bool | None
    compression: Any


class _SyncBearer(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    def __init__(self, token: str) -> None:
        self._entry = ("authorization", f"Bearer {token}")

    def _with_token(self, details: Any) -> Any:
        return _SyncDetails(
            details.method,
            details.timeout,
            [*(details.metadata or ()), self._entry],
            details.credentials,
            details.wait_for_ready,
            details.compression,
        )

    def intercept_unary_unary(self, continuation, client_call_details, request):  # type: ignore[no-untyped-def]
        return continuation(self._with_token(client_call_details), request)

    def intercept_unary_stream(self, continuation, client_call_details, request):  # type: ignore[no-untyped-def]
        return continuation(self._with_token(client_call_details), request)

    def intercept_stream_unary(  # type: ignore[no-untyped-def]
        self, continuation, client_call_details, request_iterator
    ):
        return continuation(self._with_token(client_call_details), request_iterator)

    def intercept_stream_stream(  # type: ignore[no-untyped-def]
        self, continuation, client_call_details, request_iterator
    ):
        return continuation(self._with_token(client_call_details), request_iterator)


class _AioBearer:
    """Adds the token to a call's metadata.

    grpc.aio files each interceptor under one call type only, so each type
    gets a subclass of its own below.
    """

    def __init__(self, token: str) -> None:
        self._entry = ("authorization", f"Bearer {token}")

    def _with_token(self, details: grpc.aio.ClientCallDetails) -> Any:
        metadata = grpc.aio.Metadata(*(details.metadata or ()), self._entry)
        return grpc.aio.ClientCallDetails(
            details.method,
            details.timeout,
            metadata,
            details.credentials,
            details.wait_for_ready,
        )


class _AioBearerUnaryUnary(_AioBearer, grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(self, continuation, client_call_details, request):  # type: ignore[no-untyped-def]
        return await continuation(self._with_token(client_call_details), request)


class _AioBearerUnaryStream(_AioBearer, grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(self, continuation, client_call_details, request):  # type: ignore[no-untyped-def]
        return await continuation(self._with_token(client_call_details), request)


class _AioBearerStreamUnary(_AioBearer, grpc.aio.StreamUnaryClientInterceptor):
    async def intercept_stream_unary(  # type: ignore[no-untyped-def]
        self, continuation, client_call_details, request_iterator
    ):
        return await continuation(
            self._with_token(client_call_details), request_iterator
        )


class _AioBearerStreamStream(_AioBearer, grpc.aio.StreamStreamClientInterceptor):
    async def intercept_stream_stream(  # type: ignore[no-untyped-def]
        self, continuation, client_call_details, request_iterator
    ):
        return await continuation(
            self._with_token(client_call_details), request_iterator
        )


def _aio_bearers(token: str) -> list[Any]:
    return [
        kind(token)
        for kind in (
            _AioBearerUnaryUnary,
            _AioBearerUnaryStream,
            _AioBearerStreamUnary,
            _AioBearerStreamStream,
        )
    ]


def timeout_seconds(timeout: timedelta | float | None) -> float | None:
    """Convert a timeout given as a timedelta or in seconds to seconds."""
    if timeout is None:
        return None
    if isinstance(timeout, timedelta):
        return timeout.total_seconds()
    if isinstance(timeout, int | float) and not isinstance(timeout, bool):
        return float(timeout)
    raise TypeError(
        f"timeout must be a timedelta, a number of seconds or None, got {timeout!r}"
    )


def _check_target(target: Any) -> None:
    if not isinstance(target, str) or not target:
        raise TypeError(
            f"target must be a server address such as '127.0.0.1:50051' or a "
            f"grpc channel, got {target!r}"
        )
