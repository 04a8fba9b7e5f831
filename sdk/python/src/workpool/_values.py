"""Conversions between Python values and ``google.protobuf.Value``.

A ``Value`` contains JSON-like data, and its numbers are IEEE 754 doubles. An
``int`` is sent as a double, so only integers with an absolute value up to
2**53 survive the round trip exactly. On the way back, integral doubles in
that range become ``int`` again, so ``{"n": 3}`` returns as ``{"n": 3}`` and
not ``{"n": 3.0}``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from google.protobuf import struct_pb2

# Largest integer that a double stores exactly, and every smaller one too.
MAX_EXACT_INT = 2**53


def to_value(obj: Any, *, name: str = "value") -> struct_pb2.Value:
    """Convert a JSON-like Python value to a ``google.protobuf.Value``.

    Accepted: ``None``, ``bool``, ``int`` (up to 2**53 in absolute value),
    finite ``float``, ``str``, mappings with ``str`` keys, lists and tuples.
    ``name`` is how error messages refer to ``obj``, such as ``"args"``.

    Raises:
        TypeError: a value, or a mapping key, has another type.
        ValueError: a float is NaN or infinite, or an int is too large to
            stay exact as a double.
    """
    value = struct_pb2.Value()
    _fill_value(value, obj, name)
    return value


def from_value(value: struct_pb2.Value | None) -> Any:
    """Convert a ``google.protobuf.Value`` to plain Python data.

    Integral numbers with an absolute value up to 2**53 come back as ``int``,
    other numbers as ``float``. An unset value converts to ``None``.
    """
    if value is None:
        return None

    kind = value.WhichOneof("kind")
    if kind == "number_value":
        return _from_number(value.number_value)
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "struct_value":
        return {
            key: from_value(item) for key, item in value.struct_value.fields.items()
        }
    if kind == "list_value":
        return [from_value(item) for item in value.list_value.values]
    return None


def _from_number(number: float) -> int | float:
    if number.is_integer() and abs(number) <= MAX_EXACT_INT:
        return int(number)
    return number


# Deepest nesting of lists and mappings the server accepts. Deeper values
# would also pass protobuf's recursion limit inside the worker's messages.
MAX_DEPTH = 32


def _fill_value(value: struct_pb2.Value, obj: Any, path: str, depth: int = 0) -> None:
    # bool is tested before int because bool is a subclass of int.
    if obj is None:
        value.null_value = struct_pb2.NULL_VALUE
    elif isinstance(obj, bool):
        value.bool_value = obj
    elif isinstance(obj, int):
        value.number_value = _int_to_double(obj, path)
    elif isinstance(obj, float):
        value.number_value = _check_finite(obj, path)
    elif isinstance(obj, str):
        value.string_value = obj
    elif isinstance(obj, Mapping | list | tuple) and depth >= MAX_DEPTH:
        raise ValueError(
            f"{path} nests lists and mappings deeper than {MAX_DEPTH} levels, "
            "the server's limit: flatten it or send it as a JSON string"
        )
    elif isinstance(obj, Mapping):
        _fill_struct(value.struct_value, obj, path, depth + 1)
    elif isinstance(obj, list | tuple):
        list_value = value.list_value
        list_value.SetInParent()
        for index, item in enumerate(obj):
            _fill_value(list_value.values.add(), item, f"{path}[{index}]", depth + 1)
    else:
        raise TypeError(
            f"{path} has type {type(obj).__name__} ({obj!r}), which is not "
            "JSON-like; use None, bool, int, float, str, a dict with str keys, "
            "a list or a tuple"
        )


def _fill_struct(
    struct: struct_pb2.Struct, mapping: Mapping[Any, Any], path: str, depth: int
) -> None:
    struct.SetInParent()
    for key, item in mapping.items():
        if not isinstance(key, str):
            raise TypeError(
                f"{path} has the key {key!r} of type {type(key).__name__}; "
                "mapping keys must be str, so convert the key with str() first"
            )
        _fill_value(struct.fields[key], item, f"{path}[{key!r}]", depth)


def _int_to_double(number: int, path: str) -> float:
    if abs(number) > MAX_EXACT_INT:
        raise ValueError(
            f"{path} is {number}, which a protobuf Value (a double) cannot hold "
            "exactly because its absolute value exceeds 2**53; send it as a str"
        )
    return float(number)


def _check_finite(number: float, path: str) -> float:
    if not math.isfinite(number):
        raise ValueError(
            f"{path} is {number!r}; NaN and infinity have no JSON form, so "
            "send a finite number, None or a str instead"
        )
    return number
