import asyncio
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from workpool import CompletionEvent, NonRetryableError, ResultKind, WorkContext
from workpool._handlers import completion_handler, register_handler, run_handler
from workpool._values import from_value, to_value


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=2) as pool:
        yield pool


def context(function: str = "f") -> WorkContext:
    return WorkContext(work_id="wk_1", attempt=2, pool="emails", function=function)


async def test_async_handler_success(executor: ThreadPoolExecutor) -> None:
    async def add(ctx: WorkContext, args: dict) -> int:
        return args["a"] + args["b"]

    result = await run_handler(
        register_handler("add", add), context(), to_value({"a": 1, "b": 2}), executor
    )

    assert result.work_id == "wk_1"
    assert result.attempt == 2
    assert result.WhichOneof("outcome") == "success"
    assert from_value(result.success.return_value) == 3


async def test_sync_handler_runs_in_thread(executor: ThreadPoolExecutor) -> None:
    def where(ctx: WorkContext, args: Any) -> str:
        return threading.current_thread().name

    result = await run_handler(
        register_handler("where", where), context(), None, executor
    )

    assert from_value(result.success.return_value) != threading.current_thread().name


async def test_handler_exception_reported_with_type(
    executor: ThreadPoolExecutor,
) -> None:
    def fail(ctx: WorkContext, args: Any) -> None:
        raise KeyError("user")

    result = await run_handler(
        register_handler("fail", fail), context(), None, executor
    )

    assert result.WhichOneof("outcome") == "failure"
    assert result.failure.error == "KeyError: 'user'"
    assert result.failure.non_retryable is False


async def test_non_retryable_error_marked(executor: ThreadPoolExecutor) -> None:
    async def reject(ctx: WorkContext, args: Any) -> None:
        raise NonRetryableError("invalid address")

    result = await run_handler(
        register_handler("reject", reject), context(), None, executor
    )

    assert result.failure.error == "NonRetryableError: invalid address"
    assert result.failure.non_retryable is True


async def test_non_json_return_fails_without_retry(
    executor: ThreadPoolExecutor,
) -> None:
    def give_set(ctx: WorkContext, args: Any) -> set:
        return {1}

    result = await run_handler(
        register_handler("s", give_set), context(), None, executor
    )

    assert result.failure.non_retryable is True
    assert "return value has type set" in result.failure.error


async def test_unregistered_function_fails_without_retry(
    executor: ThreadPoolExecutor,
) -> None:
    result = await run_handler(None, context("nope"), None, executor)

    assert result.failure.non_retryable is True
    assert "'nope'" in result.failure.error


async def test_cancel_signal_reaches_sync_handler(executor: ThreadPoolExecutor) -> None:
    ctx = context()
    started = threading.Event()

    def wait_for_cancel(ctx: WorkContext, args: Any) -> bool:
        started.set()
        while not ctx.is_cancel_requested():
            threading.Event().wait(0.01)
        return True

    task = asyncio.create_task(
        run_handler(register_handler("w", wait_for_cancel), ctx, None, executor)
    )
    await asyncio.to_thread(started.wait, 5)
    ctx._request_cancel()
    result = await asyncio.wait_for(task, 5)

    assert ctx.cancel_requested.is_set()
    assert from_value(result.success.return_value) is True


def test_register_handler_detects_async() -> None:
    async def run_async(ctx: WorkContext, args: Any) -> None:
        return None

    class Callable:
        async def __call__(self, ctx: WorkContext, args: Any) -> None:
            return None

    assert register_handler("a", run_async).is_async
    assert register_handler("b", Callable()).is_async
    assert not register_handler("c", lambda ctx, args: None).is_async


def test_register_handler_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="function must be a non-empty str"):
        register_handler("", lambda ctx, args: None)
    with pytest.raises(TypeError, match="handler for 'f' must be callable"):
        register_handler("f", "not callable")  # type: ignore[arg-type]


async def test_completion_handler_decodes_event(executor: ThreadPoolExecutor) -> None:
    received: list[CompletionEvent] = []

    async def on_done(ctx: WorkContext, event: CompletionEvent) -> str:
        received.append(event)
        return event.work_id

    args = {"work_id": "wk_9", "context": {"n": 1}, "result": {"kind": "canceled"}}
    registered = register_handler("done", completion_handler(on_done))

    result = await run_handler(registered, context("done"), to_value(args), executor)

    assert registered.is_async
    assert from_value(result.success.return_value) == "wk_9"
    assert received[0].context == {"n": 1}
    assert received[0].result.kind is ResultKind.CANCELED


async def test_completion_handler_malformed_args_not_retried(
    executor: ThreadPoolExecutor,
) -> None:
    def on_done(ctx: WorkContext, event: CompletionEvent) -> None:
        return None

    registered = register_handler("done", completion_handler(on_done))

    result = await run_handler(registered, context("done"), to_value([1]), executor)

    assert not registered.is_async
    assert result.failure.non_retryable is True
    assert "must be an object" in result.failure.error
