import math
from datetime import timedelta

import pytest

from workpool import CompletionEvent, Result, ResultKind, RetryPolicy


def test_retry_policy_defaults() -> None:
    policy = RetryPolicy()

    assert policy.max_attempts == 5
    assert policy.initial_backoff == timedelta(milliseconds=250)
    assert policy.base == 2.0
    assert policy.max_backoff is None


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"max_attempts": 0}, ValueError, "max_attempts is 0"),
        ({"max_attempts": -1}, ValueError, "max_attempts is -1"),
        ({"max_attempts": 2.5}, TypeError, "max_attempts must be an int"),
        ({"max_attempts": True}, TypeError, "max_attempts must be an int"),
        ({"initial_backoff": 1.0}, TypeError, "initial_backoff must be a timedelta"),
        ({"initial_backoff": timedelta(seconds=-1)}, ValueError, "zero or more"),
        ({"max_backoff": timedelta(seconds=-1)}, ValueError, "max_backoff is"),
        ({"base": 0.5}, ValueError, "base is 0.5"),
        ({"base": math.nan}, ValueError, "base is nan"),
        ({"base": "2"}, TypeError, "base must be a float"),
    ],
    ids=lambda case: repr(case) if isinstance(case, dict) else "",
)
def test_retry_policy_invalid(kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        RetryPolicy(**kwargs)


def test_completion_event_success() -> None:
    event = CompletionEvent.from_args(
        {
            "work_id": "wk_1",
            "context": {"user": 7},
            "result": {"kind": "success", "return_value": [1, 2]},
        }
    )

    assert event.work_id == "wk_1"
    assert event.context == {"user": 7}
    assert event.result == Result(ResultKind.SUCCESS, return_value=[1, 2])


def test_completion_event_failure() -> None:
    event = CompletionEvent.from_args(
        {
            "work_id": "wk_1",
            "context": None,
            "result": {"kind": "failure", "error": "RuntimeError: x"},
        }
    )

    assert event.context is None
    assert event.result.kind is ResultKind.FAILURE
    assert event.result.error == "RuntimeError: x"


def test_completion_event_canceled() -> None:
    event = CompletionEvent.from_args(
        {"work_id": "wk_1", "result": {"kind": "canceled"}}
    )

    assert event.result.kind is ResultKind.CANCELED
    assert event.result.canceled


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (None, "must be an object"),
        ([1], "must be an object"),
        ({"result": {"kind": "success"}}, "no valid work_id"),
        ({"work_id": "wk_1"}, "no valid result object"),
        ({"work_id": "wk_1", "result": {"kind": "done"}}, "kind 'done'"),
    ],
    ids=["none", "list", "no-work-id", "no-result", "unknown-kind"],
)
def test_completion_event_malformed(args: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        CompletionEvent.from_args(args)


def test_result_kind_compares_to_str() -> None:
    assert ResultKind.SUCCESS == "success"
    assert Result(ResultKind.FAILURE, error="x").failed
