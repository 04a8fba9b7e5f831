"""Requests that protobuf cannot decode, turned into INVALID_ARGUMENT.

gRPC reports a deserializer's exception as an unhelpful UNKNOWN status and
logs an error. The server's deserializers return an UndecodableRequest
instead, and the servicers reject it with a message that names the fix.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from google.protobuf.message import DecodeError

from workpool_server.errors import InvalidArgumentError, invalid


class UndecodableRequest:
    """Placeholder for a request message that failed to decode."""

    def __init__(self, error: DecodeError) -> None:
        self.error = error


def guard(deserialize: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    if deserialize is None:
        return None

    def safe_deserialize(data: bytes) -> Any:
        try:
            return deserialize(data)
        except DecodeError as error:
            return UndecodableRequest(error)

    return safe_deserialize


def undecodable_error(request: UndecodableRequest) -> InvalidArgumentError:
    # A JSON object level of a google.protobuf.Value costs three protobuf
    # levels (Value, Struct, map entry) and an array level two.
    return invalid(
        "request",
        "cannot be decoded: nesting is limited to 100 protobuf levels, about 32 "
        "levels of JSON objects or 48 of arrays, and every string must be valid "
        f"UTF-8 ({request.error})",
    )


def check_decoded(request: Any) -> None:
    if isinstance(request, UndecodableRequest):
        raise undecodable_error(request)
