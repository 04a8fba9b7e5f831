from datetime import timedelta
from typing import Any

import pytest

from workpool import AsyncWorkpool, OnComplete, Pool, RetryPolicy, WorkItem, Workpool


class RecordingClient:
    """Stands in for Client: records calls and returns fixed ids."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def ensure_pool(self, name: str, **settings: Any) -> Pool:
        self.calls.append(("ensure_pool", (name,), settings))
        return Pool(name=name)

    def enqueue(self, pool: str, function: str, args: Any = None, **kwargs: Any) -> str:
        self.calls.append(("enqueue", (pool, function, args), kwargs))
        return "wk_1"

    def enqueue_batch(self, pool: str, items: list[WorkItem]) -> list[str]:
        self.calls.append(("enqueue_batch", (pool, items), {}))
        return [f"wk_{index}" for index in range(len(items))]

    def cancel_all(self, pool: str) -> None:
        self.calls.append(("cancel_all", (pool,), {}))


class AsyncRecordingClient(RecordingClient):
    async def ensure_pool(self, name: str, **settings: Any) -> Pool:  # type: ignore[override]
        return RecordingClient.ensure_pool(self, name, **settings)

    async def enqueue(self, *args: Any, **kwargs: Any) -> str:  # type: ignore[override]
        return RecordingClient.enqueue(self, *args, **kwargs)


def test_workpool_applies_options_once() -> None:
    client = RecordingClient()
    pool = Workpool(
        client,  # type: ignore[arg-type]
        pool="emails",
        max_parallelism=3,
        retry_actions_by_default=True,
        default_retry_behavior=RetryPolicy(max_attempts=2),
    )

    pool.enqueue_action("email.send", {"to": "a"})
    pool.enqueue_action("email.send", {"to": "b"})

    ensure_calls = [call for call in client.calls if call[0] == "ensure_pool"]
    assert ensure_calls == [
        (
            "ensure_pool",
            ("emails",),
            {
                "max_parallelism": 3,
                "retry_by_default": True,
                "default_retry": RetryPolicy(max_attempts=2),
            },
        )
    ]


def test_workpool_enqueue_action_builds_on_complete() -> None:
    client = RecordingClient()
    pool = Workpool(client, pool="emails")  # type: ignore[arg-type]

    work_id = pool.enqueue_action(
        "email.send",
        {"to": "a"},
        on_complete="email.done",
        context={"user": 1},
        run_after=timedelta(seconds=5),
    )

    name, args, kwargs = client.calls[-1]
    assert work_id == "wk_1"
    assert name == "enqueue"
    assert args == ("emails", "email.send", {"to": "a"})
    assert kwargs["on_complete"] == OnComplete("email.done", {"user": 1})
    assert kwargs["run_after"] == timedelta(seconds=5)


def test_workpool_batch_shares_options() -> None:
    client = RecordingClient()
    pool = Workpool(client, pool="emails")  # type: ignore[arg-type]

    work_ids = pool.enqueue_action_batch("email.send", [1, 2], retry=False)

    _, (pool_name, items), _ = client.calls[-1]
    assert work_ids == ["wk_0", "wk_1"]
    assert pool_name == "emails"
    assert [item.args for item in items] == [1, 2]
    assert all(item.retry is False for item in items)


def test_workpool_context_without_on_complete_rejected() -> None:
    pool = Workpool(RecordingClient(), pool="emails")  # type: ignore[arg-type]

    with pytest.raises(ValueError, match="context is set but on_complete is not"):
        pool.enqueue_action("email.send", context={"user": 1})


def test_workpool_invalid_option_rejected_early() -> None:
    with pytest.raises(ValueError, match="max_parallelism is -2"):
        Workpool(RecordingClient(), pool="emails", max_parallelism=-2)  # type: ignore[arg-type]


async def test_async_workpool_applies_options_once() -> None:
    client = AsyncRecordingClient()
    pool = AsyncWorkpool(client, pool="emails", max_parallelism=4)  # type: ignore[arg-type]

    first = await pool.enqueue_action("email.send")
    second = await pool.enqueue_action("email.send")

    ensure_calls = [call for call in client.calls if call[0] == "ensure_pool"]
    assert first == "wk_1"
    assert second == "wk_1"
    assert ensure_calls == [("ensure_pool", ("emails",), {"max_parallelism": 4})]
