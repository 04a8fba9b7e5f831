"""One conformance scenario run against a server with the public Python SDK.

The scenario format is described in README.md next to this file.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import grpc

from workpool import (
    AsyncClient,
    Completion,
    Continue,
    InvalidArgumentError,
    NonRetryableError,
    OnComplete,
    RetryPolicy,
    WorkContext,
    Worker,
    WorkItem,
    WorkpoolError,
    tls_credentials,
)
from workpool._channel import aio_channel

# How long an expect_* step keeps checking before it fails, and how often.
EXPECT_TIMEOUT_SECONDS = 10.0
POLL_SECONDS = 0.02

# Python's SDK has no signal for "the server accepted the subscription", so
# watch_start waits this long for the first message to arrive. On loopback the
# first message takes a few milliseconds.
# NOTE: a slower machine could miss a completion that happens right after
# watch_start; remove this wait once the SDK reports the subscription as live.
WATCH_SETTLE_SECONDS = 0.3

# Grace of a graceful stop_worker: blocked handlers never finish on their own.
STOP_GRACE = timedelta(seconds=5)


def connection_settings() -> dict[str, Any]:
    """TLS credentials and token from WORKPOOL_CA_FILE and WORKPOOL_TOKEN."""
    ca_file = os.environ.get("WORKPOOL_CA_FILE")
    return {
        "credentials": tls_credentials(ca_file=ca_file) if ca_file else None,
        "token": os.environ.get("WORKPOOL_TOKEN") or None,
    }


def open_channel(target: str) -> grpc.aio.Channel:
    """A channel the runner owns, with the SDK's settings and the above."""
    return aio_channel(target, options=None, **connection_settings())


class StepFailed(Exception):
    """A step of the scenario failed; the message gives the reason."""


def expand_value(value: Any) -> Any:
    """Expand every ``{"$repeat": s, "times": n}`` object into s repeated n times."""
    if isinstance(value, dict):
        if set(value) == {"$repeat", "times"}:
            text, times = value["$repeat"], value["times"]
            if not isinstance(text, str) or not isinstance(times, int):
                raise StepFailed(f"invalid $repeat value {value!r}")
            return text * times
        return {key: expand_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [expand_value(item) for item in value]
    return value


def json_equal(actual: Any, expected: Any) -> bool:
    """Compare JSON values, numbers by value, since the wire carries doubles."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(actual) is type(expected) and actual == expected
    if isinstance(expected, int | float) and isinstance(actual, int | float):
        return float(actual) == float(expected)
    if isinstance(expected, dict):
        return (
            isinstance(actual, dict)
            and actual.keys() == expected.keys()
            and all(json_equal(actual[key], expected[key]) for key in expected)
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(expected)
            and all(json_equal(a, e) for a, e in zip(actual, expected, strict=True))
        )
    return actual == expected


def first_difference(actual: Any, expected: Any, path: str = "$") -> str:
    """Return where two JSON values that are not json_equal first differ."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        if actual.keys() != expected.keys():
            return f"{path} has keys {sorted(actual)}, expected {sorted(expected)}"
        for key in expected:
            if not json_equal(actual[key], expected[key]):
                return first_difference(actual[key], expected[key], f"{path}.{key}")
    if isinstance(expected, list) and isinstance(actual, list):
        if len(actual) != len(expected):
            return f"{path} has {len(actual)} elements, expected {len(expected)}"
        for index, (a, e) in enumerate(zip(actual, expected, strict=True)):
            if not json_equal(a, e):
                return first_difference(a, e, f"{path}[{index}]")
    if isinstance(expected, str) and isinstance(actual, str):
        index = next(
            (
                i
                for i, (a, e) in enumerate(zip(actual, expected, strict=False))
                if a != e
            ),
            min(len(actual), len(expected)),
        )
        return (
            f"{path} is a string of {len(actual)} characters, expected "
            f"{len(expected)}, first differing at index {index}"
        )
    return f"{path} is {describe(actual)}, expected {describe(expected)}"


def describe(value: Any, limit: int = 120) -> str:
    """Return a short repr, so that 500 KB payloads do not flood a FAIL line."""
    text = repr(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text)} characters)"


def scheduling_options(step: dict[str, Any]) -> dict[str, Any]:
    """Convert a step's scheduling fields to keyword arguments of an enqueue.

    Only the fields the step sets become arguments, so that scenarios
    without them call the SDK exactly as before.
    """
    options: dict[str, Any] = {}
    if "concurrency_key" in step:
        options["concurrency_key"] = step["concurrency_key"]
    if "priority" in step:
        options["priority"] = step["priority"]
    if "attempt_timeout_ms" in step:
        options["attempt_timeout"] = timedelta(milliseconds=step["attempt_timeout_ms"])
    return options


POOL_DURATION_FIELDS = {
    "priority_aging_ms": "priority_aging",
    "default_attempt_timeout_ms": "default_attempt_timeout",
}


def retry_option(raw: Any) -> bool | RetryPolicy | None:
    """Convert a scenario's ``retry`` field to the SDK's retry argument."""
    if raw is None or isinstance(raw, bool):
        return raw
    if not isinstance(raw, dict):
        raise StepFailed(f"retry must be absent, true, false or an object: {raw!r}")

    max_backoff = raw.get("max_backoff_ms")
    return RetryPolicy(
        max_attempts=raw.get("max_attempts", 5),
        initial_backoff=timedelta(milliseconds=raw.get("initial_backoff_ms", 250)),
        base=raw.get("base", 2),
        max_backoff=None
        if max_backoff is None
        else timedelta(milliseconds=max_backoff),
    )


@dataclass
class Watch:
    """A named subscription: what it delivered and the task that reads it."""

    seen: list[Completion] = field(default_factory=list)
    task: asyncio.Task[None] | None = None
    error: BaseException | None = None

    @property
    def last_sequence(self) -> int | None:
        return self.seen[-1].sequence if self.seen else None


@dataclass
class RunningWorker:
    worker: Worker
    channel: grpc.aio.Channel
    task: asyncio.Task[None]


class ScenarioRun:
    """State of one scenario: its pool, workers, subscriptions and handler log."""

    def __init__(self, target: str, scenario: dict[str, Any]) -> None:
        self.target = target
        self.scenario = scenario
        self.pool = f"{scenario['name']}-{secrets.token_hex(4)}"
        self.client: AsyncClient | None = None

        # Key of each enqueued item, and its id.
        self.ids: dict[str, str] = {}
        self.keys: dict[str, str] = {}

        # Handler runs, in order: ("start" | "end", work_id).
        self.events: list[tuple[str, str]] = []
        self.follow_ups: list[Any] = []
        self.released_keys: set[str] = set()
        self.released_attempts: set[tuple[str, int]] = set()
        self.changed = asyncio.Condition()

        self.workers: dict[str, RunningWorker] = {}
        self.watches: dict[str, Watch] = {}
        self.handlers = {
            name: self._make_handler(name, spec)
            for name, spec in scenario.get("functions", {}).items()
        }

    async def run(self) -> None:
        """Run every step in order; raise StepFailed at the first that fails."""
        async with AsyncClient(self.target, **connection_settings()) as client:
            self.client = client
            try:
                await self._create_pool()
                for index, step in enumerate(self.scenario["steps"]):
                    try:
                        await self._run_step(step)
                    except StepFailed as error:
                        raise StepFailed(
                            f"step {index} ({step.get('op')}) in pool {self.pool}: "
                            f"{error}"
                        ) from None
                    except WorkpoolError as error:
                        raise StepFailed(
                            f"step {index} ({step.get('op')}): "
                            f"{type(error).__name__}: {error}"
                        ) from error
            finally:
                await self._tear_down()

    async def _create_pool(self) -> None:
        settings = dict(self.scenario.get("pool", {}))
        default_retry = settings.pop("default_retry", None)
        known = {"max_parallelism", "retry_by_default", "max_per_key"}
        unknown = set(settings) - known - set(POOL_DURATION_FIELDS)
        if unknown:
            raise StepFailed(f"unknown pool fields {sorted(unknown)}")

        # Scheduling settings are passed only when set, as in
        # scheduling_options.
        extra: dict[str, Any] = {}
        if "max_per_key" in settings:
            extra["max_per_key"] = settings["max_per_key"]
        for field_name, argument in POOL_DURATION_FIELDS.items():
            if field_name in settings:
                extra[argument] = timedelta(milliseconds=settings[field_name])
        await self._client.create_pool(
            self.pool,
            max_parallelism=settings.get("max_parallelism"),
            retry_by_default=settings.get("retry_by_default"),
            default_retry=None
            if default_retry is None
            else retry_option(default_retry),
            **extra,
        )

    async def _tear_down(self) -> None:
        # Abrupt stops are fast, and the pool is never used again.
        for name in list(self.workers):
            await self._stop_worker(name, abrupt=True)
        for watch in self.watches.values():
            await _cancel_task(watch.task)

    @property
    def _client(self) -> AsyncClient:
        assert self.client is not None
        return self.client

    # Steps.

    async def _run_step(self, step: dict[str, Any]) -> None:
        op = step.get("op")
        action = self._actions().get(op)
        if action is not None:
            await action(step)
            return

        check = self._checks().get(op)
        if check is None:
            raise StepFailed(f"unknown op {op!r}")
        await self._eventually(lambda: check(step))

    def _actions(self) -> dict[str, Callable[[dict[str, Any]], Awaitable[None]]]:
        return {
            "enqueue": self._enqueue,
            "enqueue_batch": self._enqueue_batch,
            "start_worker": self._start_worker,
            "stop_worker": lambda step: self._stop_worker(step["name"], step["abrupt"]),
            "release": self._release,
            "update_pool": self._update_pool,
            "cancel": self._cancel,
            "expect_error": self._expect_error,
            "watch_start": self._watch_start,
            "watch_stop": self._watch_stop,
            "watch_resume": self._watch_resume,
            "sleep_ms": lambda step: asyncio.sleep(step["ms"] / 1000),
        }

    def _checks(self) -> dict[str, Callable[[dict[str, Any]], Awaitable[str | None]]]:
        return {
            "expect_status": self._check_status,
            "expect_running": self._check_running,
            "expect_max_concurrent": self._check_max_concurrent,
            "expect_started_order": self._check_started_order,
            "expect_attempts": self._check_attempts,
            "expect_follow_up": self._check_follow_up,
            "expect_watch": self._check_watch,
        }

    async def _eventually(self, check: Callable[[], Awaitable[str | None]]) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + EXPECT_TIMEOUT_SECONDS
        while True:
            self._raise_if_worker_died()
            reason = await check()
            if reason is None:
                return
            if loop.time() >= deadline:
                raise StepFailed(
                    f"still not true after {EXPECT_TIMEOUT_SECONDS} s: {reason}"
                )
            await asyncio.sleep(POLL_SECONDS)

    def _raise_if_worker_died(self) -> None:
        for name, running in self.workers.items():
            if running.task.done() and not running.task.cancelled():
                error = running.task.exception()
                raise StepFailed(f"worker {name!r} stopped on its own: {error!r}")

    def _id(self, key: str) -> str:
        if key not in self.ids:
            raise StepFailed(f"no item was enqueued under the key {key!r}")
        return self.ids[key]

    async def _remember(self, key: str, work_id: str) -> None:
        self.ids[key] = work_id
        self.keys[work_id] = key
        async with self.changed:
            self.changed.notify_all()

    # Actions.

    async def _enqueue(self, step: dict[str, Any]) -> None:
        on_complete = None
        if "on_complete" in step:
            spec = step["on_complete"]
            on_complete = OnComplete(
                spec["function"], expand_value(spec.get("context"))
            )
        run_after = None
        if "run_after_ms" in step:
            run_after = timedelta(milliseconds=step["run_after_ms"])

        work_id = await self._client.enqueue(
            self.pool,
            step["function"],
            expand_value(step.get("args")),
            retry=retry_option(step.get("retry")),
            on_complete=on_complete,
            run_after=run_after,
            **scheduling_options(step),
        )
        await self._remember(step["key"], work_id)

    async def _enqueue_batch(self, step: dict[str, Any]) -> None:
        args = expand_value(step.get("args"))
        options = scheduling_options(step)
        items = [WorkItem(step["function"], args, **options) for _ in step["keys"]]
        work_ids = await self._client.enqueue_batch(self.pool, items)
        for key, work_id in zip(step["keys"], work_ids, strict=True):
            await self._remember(key, work_id)

    async def _start_worker(self, step: dict[str, Any]) -> None:
        name = step["name"]
        if name in self.workers:
            raise StepFailed(f"worker {name!r} is already running")

        # The runner owns the channel, so that an abrupt stop can close it
        # under the worker without the worker reporting anything.
        channel = open_channel(self.target)
        # Worker names are unique per scenario, so that the server never
        # takes one scenario's worker for a reconnect of another's.
        worker = Worker(
            channel,
            pools=[self.pool],
            capacity=step["capacity"],
            name=f"{self.pool}-{name}",
        )
        for function, handler in self.handlers.items():
            worker.register(function, handler)
        task = asyncio.create_task(worker.run_async())
        self.workers[name] = RunningWorker(worker, channel, task)

    async def _stop_worker(self, name: str, abrupt: bool) -> None:
        running = self.workers.pop(name, None)
        if running is None:
            raise StepFailed(f"no worker named {name!r} is running")

        if abrupt:
            # Closing the channel without a grace cancels the Work stream at
            # once, as a crashed process would. Canceling the task then keeps
            # the worker from reconnecting.
            await running.channel.close(grace=None)
            await _cancel_task(running.task)
            return

        await running.worker.stop(STOP_GRACE)
        await asyncio.gather(running.task, return_exceptions=True)
        await running.channel.close()

    async def _release(self, step: dict[str, Any]) -> None:
        if "attempt" in step:
            self.released_attempts.add((step["key"], step["attempt"]))
        else:
            self.released_keys.add(step["key"])
        async with self.changed:
            self.changed.notify_all()

    async def _update_pool(self, step: dict[str, Any]) -> None:
        await self._client.update_pool(
            self.pool, max_parallelism=step["max_parallelism"]
        )

    async def _cancel(self, step: dict[str, Any]) -> None:
        outcome = await self._client.cancel(self._id(step["key"]))
        if outcome.value != step["expect"]:
            raise StepFailed(
                f"cancel returned {outcome.value}, expected {step['expect']}"
            )

    async def _expect_error(self, step: dict[str, Any]) -> None:
        request = step["request"]
        expected_code = step["code"]
        expected_field = step.get("field")
        try:
            if step["call"] == "enqueue":
                await self._client.enqueue(
                    self.pool,
                    request["function"],
                    expand_value(request.get("args")),
                    retry=retry_option(request.get("retry")),
                )
            elif step["call"] == "status":
                await self._client.status(request["work_id"])
            else:
                raise StepFailed(f"unknown call {step['call']!r}")
        except WorkpoolError as error:
            _check_rpc_error(error, expected_code, expected_field)
            return
        except (ValueError, TypeError) as error:
            # The SDK checked the input itself and sent nothing.
            _check_local_error(error, expected_code, expected_field)
            return
        raise StepFailed(f"the call succeeded, expected {expected_code}")

    async def _watch_start(self, step: dict[str, Any]) -> None:
        name = step["name"]
        if name in self.watches:
            raise StepFailed(f"subscription {name!r} was already started")
        watch = Watch()
        self.watches[name] = watch
        self._subscribe(watch, after_sequence=None)
        await asyncio.sleep(WATCH_SETTLE_SECONDS)

    async def _watch_stop(self, step: dict[str, Any]) -> None:
        watch = self._watch(step["name"])
        await _cancel_task(watch.task)
        watch.task = None
        if watch.last_sequence is None:
            raise StepFailed(
                "the subscription delivered no completion before watch_stop, so it "
                "has no sequence to resume after"
            )

    async def _watch_resume(self, step: dict[str, Any]) -> None:
        watch = self._watch(step["name"])
        if watch.task is not None:
            raise StepFailed("the subscription is still open; stop it first")
        self._subscribe(watch, after_sequence=watch.last_sequence)
        await asyncio.sleep(WATCH_SETTLE_SECONDS)

    def _subscribe(self, watch: Watch, after_sequence: int | None) -> None:
        completions = self._client.watch_completions(
            pools=[self.pool], after_sequence=after_sequence
        )
        watch.task = asyncio.create_task(_read_watch(watch, completions))

    def _watch(self, name: str) -> Watch:
        if name not in self.watches:
            raise StepFailed(f"no subscription named {name!r}")
        return self.watches[name]

    # Checks: each returns None when it holds, else why not.

    async def _check_status(self, step: dict[str, Any]) -> str | None:
        try:
            status = await self._client.status(self._id(step["key"]))
        except WorkpoolError as error:
            return f"status failed: {type(error).__name__}: {error}"

        seen = f"{status.state.value}({status.previous_attempts})"
        if status.result is not None:
            seen += f" result {status.result.kind.value}"
        if status.state.value != step["state"]:
            return f"state is {seen}, expected {step['state']}"
        if (
            "previous_attempts" in step
            and status.previous_attempts != step["previous_attempts"]
        ):
            expected = step["previous_attempts"]
            return f"state is {seen}, expected previous_attempts {expected}"

        # The SDK reports no concurrency key as None, and scenarios write "".
        scheduling = {
            "concurrency_key": status.concurrency_key or "",
            "priority": status.priority,
            "continuations": status.continuations,
        }
        for field_name, actual in scheduling.items():
            if field_name in step and actual != step[field_name]:
                return f"{field_name} is {actual!r}, expected {step[field_name]!r}"

        result = status.result
        if "result" in step and (result is None or result.kind.value != step["result"]):
            return f"state is {seen}, expected result {step['result']}"
        if "return_value" in step:
            expected = expand_value(step["return_value"])
            actual = None if result is None else result.return_value
            if not json_equal(actual, expected):
                return f"return value differs: {first_difference(actual, expected)}"
        if "error_contains" in step:
            error = result.error if result is not None else status.last_error
            wanted = step["error_contains"]
            if error is None or wanted not in error:
                return f"error is {error!r}, expected it to contain {wanted!r}"
        return None

    async def _check_running(self, step: dict[str, Any]) -> str | None:
        running = self._concurrency()[0]
        if running != step["count"]:
            return f"{running} handlers are running, expected {step['count']}"
        return None

    async def _check_max_concurrent(self, step: dict[str, Any]) -> str | None:
        highest = self._concurrency()[1]
        if highest > step["max"]:
            return f"{highest} handlers ran at once, expected at most {step['max']}"
        return None

    async def _check_started_order(self, step: dict[str, Any]) -> str | None:
        first_starts: list[str] = []
        for kind, work_id in self.events:
            key = self.keys.get(work_id)
            if kind == "start" and key is not None and key not in first_starts:
                first_starts.append(key)
        expected = step["keys"]
        if first_starts[: len(expected)] != expected:
            return f"first starts are {first_starts}, expected {expected} first"
        return None

    async def _check_attempts(self, step: dict[str, Any]) -> str | None:
        work_id = self._id(step["key"])
        runs = sum(1 for kind, ran in self.events if kind == "start" and ran == work_id)
        if runs != step["count"]:
            return f"the handler ran {runs} times, expected {step['count']}"
        return None

    async def _check_follow_up(self, step: dict[str, Any]) -> str | None:
        work_id = self._id(step["key"])
        matches = [
            args
            for args in self.follow_ups
            if isinstance(args, dict) and args.get("work_id") == work_id
        ]
        if len(matches) != 1:
            return f"{len(matches)} follow-ups recorded for the item, expected 1"

        args = matches[0]
        result = args.get("result")
        if not isinstance(result, dict) or result.get("kind") != step["result"]:
            expected = step["result"]
            return f"follow-up result is {describe(result)}, expected kind {expected}"
        if "context" in step:
            expected = expand_value(step["context"])
            actual = args.get("context")
            if not json_equal(actual, expected):
                return (
                    f"follow-up context differs: {first_difference(actual, expected)}"
                )
        if "return_value" in step:
            expected = expand_value(step["return_value"])
            actual = result.get("return_value")
            if not json_equal(actual, expected):
                return (
                    "follow-up return value differs: "
                    f"{first_difference(actual, expected)}"
                )
        return None

    async def _check_watch(self, step: dict[str, Any]) -> str | None:
        watch = self._watch(step["name"])
        if watch.error is not None:
            raise StepFailed(f"the subscription failed: {watch.error!r}")

        sequences = [completion.sequence for completion in watch.seen]
        if any(later <= earlier for earlier, later in itertools.pairwise(sequences)):
            raise StepFailed(f"sequences are not increasing: {sequences}")
        seen = [self.keys.get(c.work_id, c.work_id) for c in watch.seen]
        if seen != step["keys"]:
            with_sequences = [
                f"{key}@{c.sequence}" for key, c in zip(seen, watch.seen, strict=True)
            ]
            return f"the subscription saw {with_sequences}, expected {step['keys']}"
        return None

    def _concurrency(self) -> tuple[int, int]:
        """Return the enqueued items' handlers running now and the most at once."""
        running = highest = 0
        for kind, work_id in self.events:
            if work_id not in self.keys:
                continue
            running += 1 if kind == "start" else -1
            highest = max(highest, running)
        return running, highest

    # Handlers.

    def _make_handler(
        self, function: str, spec: dict[str, Any]
    ) -> Callable[[WorkContext, Any], Awaitable[Any]]:
        behaviours = {
            "echo": _echo,
            "fail": _fail,
            "fail_then_succeed": _fail_then_succeed,
            "non_retryable": _non_retryable,
            "block": self._block,
            "wait_for_cancel": _wait_for_cancel,
            "record": self._record,
            "continue": _continue,
        }
        behaviour = behaviours.get(spec.get("type"))
        if behaviour is None:
            raise StepFailed(
                f"function {function!r} has unknown type {spec.get('type')!r}"
            )

        async def handler(context: WorkContext, args: Any) -> Any:
            self.events.append(("start", context.work_id))
            try:
                return await behaviour(spec, context, args)
            finally:
                self.events.append(("end", context.work_id))

        return handler

    async def _block(
        self, spec: dict[str, Any], context: WorkContext, args: Any
    ) -> Any:
        def released() -> bool:
            key = self.keys.get(context.work_id)
            return key is not None and (
                key in self.released_keys
                or (key, context.attempt) in self.released_attempts
            )

        async with self.changed:
            await self.changed.wait_for(released)
        if context.attempt <= spec.get("failures", 0):
            raise RuntimeError(spec.get("error", "boom"))
        return args

    async def _record(
        self, spec: dict[str, Any], context: WorkContext, args: Any
    ) -> Any:
        self.follow_ups.append(args)
        return args


async def _echo(spec: dict[str, Any], context: WorkContext, args: Any) -> Any:
    return args


async def _fail(spec: dict[str, Any], context: WorkContext, args: Any) -> Any:
    raise RuntimeError(spec.get("error", "boom"))


async def _fail_then_succeed(
    spec: dict[str, Any], context: WorkContext, args: Any
) -> Any:
    if context.attempt <= spec["failures"]:
        raise RuntimeError(spec.get("error", "boom"))
    return args


async def _non_retryable(spec: dict[str, Any], context: WorkContext, args: Any) -> Any:
    raise NonRetryableError(spec.get("error", "boom"))


async def _continue(spec: dict[str, Any], context: WorkContext, args: Any) -> Any:
    # Continues with {"round": n + 1} until round reaches spec["times"].
    round_number = args.get("round", 0) if isinstance(args, dict) else 0
    if round_number < spec["times"]:
        return Continue({"round": round_number + 1})
    return args


async def _wait_for_cancel(
    spec: dict[str, Any], context: WorkContext, args: Any
) -> Any:
    await context.cancel_requested.wait()
    if spec.get("then") == "fail":
        raise RuntimeError("stopped after cancel")
    return {"finished": "after cancel"}


async def _read_watch(watch: Watch, completions: AsyncIterator[Completion]) -> None:
    try:
        async with contextlib.aclosing(completions):
            async for completion in completions:
                watch.seen.append(completion)
    except WorkpoolError as error:
        watch.error = error


async def _cancel_task(task: asyncio.Task[Any] | None) -> None:
    if task is None:
        return
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def _check_rpc_error(error: WorkpoolError, code: str, field_name: str | None) -> None:
    actual = error.code.name if error.code is not None else "UNKNOWN"
    if actual != code:
        raise StepFailed(f"the call failed with {actual} ({error}), expected {code}")
    if field_name is None:
        return
    violations = (
        [v.field for v in error.field_violations]
        if isinstance(error, InvalidArgumentError)
        else []
    )
    if field_name not in violations:
        raise StepFailed(
            f"field violations are {violations}, expected one for {field_name}"
        )


def _check_local_error(error: Exception, code: str, field_name: str | None) -> None:
    if code != "INVALID_ARGUMENT":
        raise StepFailed(f"the SDK raised {error!r} before the call, expected {code}")
    last_part = field_name.rsplit(".", 1)[-1] if field_name else ""
    if last_part not in str(error):
        raise StepFailed(f"the SDK raised {error!r}, which does not name {last_part}")
