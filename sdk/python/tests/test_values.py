import math
from datetime import UTC, datetime, timedelta, timezone

import pytest
from google.protobuf import struct_pb2

from workpool import from_value, to_value
from workpool._times import from_duration, from_timestamp, to_duration, to_timestamp
from workpool._values import MAX_EXACT_INT


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        False,
        0,
        -7,
        MAX_EXACT_INT,
        -MAX_EXACT_INT,
        1.5,
        -0.25,
        "",
        "héllo",
        [],
        {},
        [1, "two", None, [3.5, {"four": False}]],
        {
            "to": "a@example.com",
            "tags": ["x", "y"],
            "retries": 3,
            "nested": {"k": None},
        },
    ],
    ids=repr,
)
def test_value_round_trip(value: object) -> None:
    assert from_value(to_value(value)) == value


def test_value_integral_float_returns_as_int() -> None:
    result = from_value(to_value(3.0))

    assert result == 3
    assert type(result) is int


def test_value_int_above_exact_range_stays_float() -> None:
    value = struct_pb2.Value(number_value=float(2**60))

    result = from_value(value)

    assert type(result) is float
    assert result == float(2**60)


def test_value_bool_is_not_a_number() -> None:
    assert to_value(True).WhichOneof("kind") == "bool_value"
    assert from_value(to_value(True)) is True


def test_value_tuple_becomes_list() -> None:
    assert from_value(to_value((1, 2))) == [1, 2]


def test_value_unset_is_none() -> None:
    assert from_value(struct_pb2.Value()) is None
    assert from_value(None) is None


def test_value_int_too_large_rejected() -> None:
    with pytest.raises(ValueError, match=r"args\['id'\] is 9007199254740993"):
        to_value({"id": MAX_EXACT_INT + 1}, name="args")


@pytest.mark.parametrize("number", [math.nan, math.inf, -math.inf], ids=repr)
def test_value_non_finite_float_rejected(number: float) -> None:
    with pytest.raises(ValueError, match=r"args\[0\] is .*(nan|inf)"):
        to_value([number], name="args")


def test_value_unsupported_type_names_path() -> None:
    with pytest.raises(TypeError, match=r"args\['tags'\]\[1\] has type set"):
        to_value({"tags": [1, {2}]}, name="args")


def test_value_non_str_key_rejected() -> None:
    with pytest.raises(TypeError, match=r"key 1 of type int"):
        to_value({1: "one"})


def test_value_datetime_rejected() -> None:
    with pytest.raises(TypeError, match="has type datetime"):
        to_value(datetime.now(UTC))


def test_timestamp_aware_converts_to_utc() -> None:
    moment = datetime(2030, 1, 2, 3, 4, 5, 678000, tzinfo=timezone(timedelta(hours=2)))

    result = from_timestamp(to_timestamp(moment))

    assert result == moment
    assert result.tzinfo is UTC
    assert result.hour == 1


def test_timestamp_naive_rejected() -> None:
    with pytest.raises(ValueError, match="run_at is a naive datetime"):
        to_timestamp(datetime(2030, 1, 1), name="run_at")


def test_timestamp_non_datetime_rejected() -> None:
    with pytest.raises(TypeError, match="run_at must be a datetime, got str"):
        to_timestamp("2030-01-01", name="run_at")  # type: ignore[arg-type]


def test_duration_round_trip() -> None:
    delta = timedelta(hours=25, microseconds=7)

    assert from_duration(to_duration(delta)) == delta


def test_duration_non_timedelta_rejected() -> None:
    with pytest.raises(TypeError, match=r"run_after must be a datetime.timedelta"):
        to_duration(5, name="run_after")  # type: ignore[arg-type]
