"""Conversions between ``datetime``/``timedelta`` and Timestamp/Duration."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from google.protobuf import duration_pb2, timestamp_pb2


def to_timestamp(
    moment: datetime, *, name: str = "datetime"
) -> timestamp_pb2.Timestamp:
    """Convert an aware ``datetime`` to a Timestamp.

    Raises:
        TypeError: ``moment`` is not a datetime.
        ValueError: ``moment`` is naive, because the server cannot tell which
            time zone it is in.
    """
    if not isinstance(moment, datetime):
        raise TypeError(
            f"{name} must be a datetime, got {type(moment).__name__} ({moment!r})"
        )
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(
            f"{name} is a naive datetime ({moment.isoformat()}); pass an aware "
            "one, such as datetime.now(UTC) or dt.replace(tzinfo=UTC)"
        )

    timestamp = timestamp_pb2.Timestamp()
    timestamp.FromDatetime(moment)
    return timestamp


def from_timestamp(timestamp: timestamp_pb2.Timestamp) -> datetime:
    """Convert a Timestamp to an aware ``datetime`` in UTC."""
    return timestamp.ToDatetime(tzinfo=UTC)


def optional_timestamp(message: Any, field: str) -> datetime | None:
    """Return a Timestamp field of ``message`` as a datetime, or None if unset."""
    if not message.HasField(field):
        return None
    return from_timestamp(getattr(message, field))


def to_duration(delta: timedelta, *, name: str = "timedelta") -> duration_pb2.Duration:
    """Convert a ``timedelta`` to a Duration.

    Raises:
        TypeError: ``delta`` is not a timedelta.
    """
    if not isinstance(delta, timedelta):
        raise TypeError(
            f"{name} must be a datetime.timedelta, got {type(delta).__name__} "
            f"({delta!r}); for seconds write timedelta(seconds=...)"
        )

    duration = duration_pb2.Duration()
    duration.FromTimedelta(delta)
    return duration


def from_duration(duration: duration_pb2.Duration) -> timedelta:
    """Convert a Duration to a ``timedelta``, truncated to microseconds."""
    return duration.ToTimedelta()
