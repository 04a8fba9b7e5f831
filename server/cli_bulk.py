"""Bulk client commands: enqueue items from a JSON-lines file, and follow a
list of work ids until every one has finished."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from workpool_server.cli_output import ProgressLine
from workpool_server.config import ConfigError, parse_duration_us

# Items per EnqueueBatch call. Each call is its own transaction, so a failure
# leaves the earlier chunks enqueued.
ENQUEUE_CHUNK = 1_000
# Ids per StatusBatch call, and the most ids a watch filters on the server
# (its limit is 1,000); a longer list is filtered here instead.
STATUS_CHUNK = 1_000
WATCH_FILTER_IDS = 1_000
# How often `watch --work-ids-file` rereads the status of the ids it still
# waits for. The completion stream reports finishes at once; the reread only
# catches items that finished before the stream opened.
STATUS_RECHECK_SECONDS = 2.0

ITEM_KEYS = frozenset(
    {
        "function",
        "args",
        "retry",
        "max_attempts",
        "run_after",
        "idempotency_key",
        "on_complete",
        "context",
        "concurrency_key",
        "priority",
        "attempt_timeout",
    }
)


class InputFileError(ValueError):
    """An input file that cannot be read or contains an invalid line. The
    message names the file and the line."""


def _open_error(path: str, error: OSError) -> InputFileError:
    return InputFileError(f"cannot read {path}: {error.strerror or error}")


def read_items(path: str) -> list[Any]:
    """Parse a JSON-lines file into WorkItems, one object a line.

    Blank lines are skipped. Raises InputFileError when the file cannot be
    read, naming the file and line of the first invalid item.
    """
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise _open_error(path, error) from None
    items = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            items.append(_parse_item(line))
        except (ValueError, TypeError) as error:
            raise InputFileError(f"{path} line {number}: {error}") from None
    if not items:
        raise InputFileError(f"{path} contains no items")
    return items


def _parse_item(line: str) -> Any:
    import workpool

    try:
        fields = json.loads(line)
    except json.JSONDecodeError as error:
        raise ValueError(f"invalid JSON: {error}") from None
    if not isinstance(fields, dict):
        raise ValueError("expected a JSON object with at least a function key")
    unknown = sorted(set(fields) - ITEM_KEYS)
    if unknown:
        raise ValueError(
            f"unknown keys {unknown}: use only {', '.join(sorted(ITEM_KEYS))}"
        )
    retry: Any = fields.get("retry")
    if fields.get("max_attempts") is not None:
        retry = workpool.RetryPolicy(max_attempts=fields["max_attempts"])
    on_complete = None
    if fields.get("on_complete"):
        on_complete = workpool.OnComplete(fields["on_complete"], fields.get("context"))
    return workpool.WorkItem(
        function=fields.get("function"),
        args=fields.get("args"),
        retry=retry,
        on_complete=on_complete,
        run_after=_duration_field(fields.get("run_after"), "run_after"),
        idempotency_key=fields.get("idempotency_key"),
        concurrency_key=fields.get("concurrency_key"),
        priority=fields.get("priority", 0),
        attempt_timeout=_duration_field(
            fields.get("attempt_timeout"), "attempt_timeout"
        ),
    )


def _duration_field(value: Any, name: str) -> timedelta | None:
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    if isinstance(value, str):
        try:
            return timedelta(microseconds=parse_duration_us(value, name))
        except ConfigError as error:
            raise ValueError(str(error)) from None
    raise ValueError(f"{name} must be seconds or a duration such as 10s: {value!r}")


def enqueue_items(
    client: Any, pool: str, items: Sequence[Any], on_id: Callable[[str], None]
) -> None:
    """Enqueue `items` in chunks of ENQUEUE_CHUNK and pass each new id to
    `on_id` as its chunk is accepted.

    A terminal on stderr shows an "enqueued N/M" line while it runs.
    """
    progress = ProgressLine()
    done = 0
    try:
        for start in range(0, len(items), ENQUEUE_CHUNK):
            chunk = items[start : start + ENQUEUE_CHUNK]
            for work_id in client.enqueue_batch(pool, chunk):
                on_id(work_id)
            done += len(chunk)
            if progress.is_tty:
                progress.update(f"enqueued {done}/{len(items)}")
    finally:
        progress.finish()


def read_work_ids(path: str) -> list[str]:
    """Read one work id a line; blank lines are skipped."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise _open_error(path, error) from None
    work_ids = [line.strip() for line in text.splitlines() if line.strip()]
    if not work_ids:
        raise InputFileError(f"{path} contains no work ids")
    return work_ids


def follow_work_ids(
    client: Any,
    work_ids: Sequence[str],
    on_completion: Callable[[Any], None],
    show_progress: bool,
) -> None:
    """Wait until every one of `work_ids` has finished.

    Completions from the stream go to `on_completion`. Items that had
    finished before the stream opened are found by rereading their status,
    and have no completion to print. With `show_progress`, stderr gets a
    "finished N/M, failed F" line; F counts items whose result is a failure.

    Raises workpool.NotFoundError when an id is unknown to the server.
    """
    import workpool

    waiting = set(work_ids)
    failed = 0
    progress = ProgressLine() if show_progress else None

    def report() -> None:
        if progress is not None:
            finished = len(work_ids) - len(waiting)
            progress.update(f"finished {finished}/{len(work_ids)}, failed {failed}")

    def finish(work_id: str, result: Any) -> None:
        nonlocal failed
        waiting.discard(work_id)
        if result is not None and result.kind is workpool.ResultKind.FAILURE:
            failed += 1

    def recheck() -> None:
        ids = sorted(waiting)
        statuses = [
            status
            for start in range(0, len(ids), STATUS_CHUNK)
            for status in client.status_batch(ids[start : start + STATUS_CHUNK])
        ]
        missing = [
            s.work_id for s in statuses if s.state is workpool.WorkState.NOT_FOUND
        ]
        if missing:
            raise workpool.NotFoundError(f"work items not found: {', '.join(missing)}")
        for status in statuses:
            if status.state is workpool.WorkState.FINISHED:
                finish(status.work_id, status.result)

    events: queue.Queue = queue.Queue()
    stop = threading.Event()
    # Completions of other items are dropped below, by the `waiting` check.
    filtered = list(waiting) if len(waiting) <= WATCH_FILTER_IDS else []
    completions = client.watch_completions(work_ids=filtered)
    reader = threading.Thread(
        target=_pump, args=(completions, events, stop), daemon=True
    )
    reader.start()
    try:
        recheck()
        report()
        while waiting:
            try:
                kind, value = events.get(timeout=STATUS_RECHECK_SECONDS)
            except queue.Empty:
                recheck()
            else:
                if kind == "error":
                    raise value
                if value.work_id in waiting:
                    finish(value.work_id, value.result)
                    on_completion(value)
            report()
    finally:
        stop.set()
        if progress is not None:
            progress.finish()


def _pump(
    completions: Iterator[Any], events: queue.Queue, stop: threading.Event
) -> None:
    """Move completions from the blocking stream to `events` in a thread.

    Errors after `stop` come from the client closing under the stream and
    are dropped.
    """
    try:
        for completion in completions:
            events.put(("completion", completion))
    except Exception as error:
        if not stop.is_set():
            events.put(("error", error))
