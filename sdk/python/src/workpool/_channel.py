"""Channel settings shared by the clients and the worker."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

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


def sync_channel(
    target: str,
    *,
    credentials: grpc.ChannelCredentials | None,
    options: ChannelOptions | None,
) -> grpc.Channel:
    """Open a sync channel, secure when credentials are given."""
    _check_target(target)
    if credentials is None:
        return grpc.insecure_channel(target, options=channel_options(options))
    return grpc.secure_channel(target, credentials, options=channel_options(options))


def aio_channel(
    target: str,
    *,
    credentials: grpc.ChannelCredentials | None,
    options: ChannelOptions | None,
) -> grpc.aio.Channel:
    """Open an asyncio channel, secure when credentials are given."""
    _check_target(target)
    if credentials is None:
        return grpc.aio.insecure_channel(target, options=channel_options(options))
    return grpc.aio.secure_channel(
        target, credentials, options=channel_options(options)
    )


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
