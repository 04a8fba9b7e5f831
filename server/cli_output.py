"""Output of the `workpool` client commands: JSON lines, text tables and
progress lines on stderr."""

from __future__ import annotations

import dataclasses
import enum
import json
import sys
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, TextIO

# Width of each column of `watch --output text`, which prints rows as they
# arrive and so cannot size columns from the widest value.
WATCH_COLUMNS = (
    ("SEQUENCE", 9),
    ("WORK_ID", 30),
    ("POOL", 16),
    ("FUNCTION", 20),
    ("RESULT", 9),
    ("ATTEMPTS", 8),
)


def to_json(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            field.name: to_json(getattr(value, field.name))
            for field in dataclasses.fields(value)
        }
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, list | tuple):
        return [to_json(item) for item in value]
    if isinstance(value, dict):
        return {key: to_json(item) for key, item in value.items()}
    return value


def print_json(value: Any) -> None:
    print(json.dumps(to_json(value), ensure_ascii=False))


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Align `rows` under `headers`, each column as wide as its widest cell."""
    cells = [list(headers)] + [[_cell(value) for value in row] for row in rows]
    widths = [max(len(row[index]) for row in cells) for index in range(len(headers))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in cells
    ]
    return "\n".join(line.rstrip() for line in lines)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, timedelta):
        return f"{value.total_seconds():g}s"
    return str(value)


def _result_kind(result: Any) -> str | None:
    return None if result is None else result.kind.value


def status_table(statuses: Sequence[Any]) -> str:
    headers = ("WORK_ID", "STATE", "POOL", "FUNCTION", "ATTEMPTS", "RESULT", "ERROR")
    rows = [
        (
            status.work_id,
            status.state,
            status.pool or None,
            status.function or None,
            status.previous_attempts,
            _result_kind(status.result),
            status.last_error,
        )
        for status in statuses
    ]
    return format_table(headers, rows)


def attempts_table(statuses: Sequence[Any]) -> str:
    """Tabulate the attempts of every status, one row per attempt."""
    headers = ("WORK_ID", "ATTEMPT", "WORKER", "STARTED", "ENDED", "OUTCOME", "ERROR")
    rows = [
        (
            status.work_id,
            attempt.attempt,
            _worker(attempt),
            attempt.started_at,
            attempt.ended_at,
            attempt.outcome or "running",
            attempt.error or None,
        )
        for status in statuses
        for attempt in status.attempts
    ]
    return format_table(headers, rows)


def _worker(attempt: Any) -> str:
    if attempt.worker_name:
        return f"{attempt.worker_name} ({attempt.worker_id})"
    return attempt.worker_id


def explanation_table(explanation: Any) -> str:
    status = explanation.status
    rows = [
        ("work_id", status.work_id),
        ("state", status.state),
        ("reason", explanation.reason),
        ("detail", explanation.detail),
        ("until", explanation.until),
        ("since", explanation.since),
        ("ahead", explanation.ahead_count),
        ("worker_id", explanation.worker_id or None),
        ("running", ", ".join(explanation.running_work_ids) or None),
    ]
    return format_table(("FIELD", "VALUE"), rows)


def pools_table(pools: Sequence[Any]) -> str:
    headers = ["NAME", "MAX_PARALLELISM", "RETRY_BY_DEFAULT", "STATUS_TTL"]
    with_stats = any(pool.stats is not None for pool in pools)
    if with_stats:
        headers += ["PENDING", "RUNNING"]
    rows = []
    for pool in pools:
        ttl = "forever" if pool.keep_status_forever else pool.status_ttl
        row = [pool.name, pool.max_parallelism, pool.retry_by_default, ttl]
        if with_stats:
            stats = pool.stats
            row += [
                stats.pending_count if stats else None,
                stats.running_count if stats else None,
            ]
        rows.append(row)
    return format_table(headers, rows)


def watch_header() -> str:
    return _fixed_row(name for name, _ in WATCH_COLUMNS)


def watch_row(completion: Any) -> str:
    return _fixed_row(
        (
            completion.sequence,
            completion.work_id,
            completion.pool,
            completion.function,
            _result_kind(completion.result),
            completion.attempts,
        )
    )


def _fixed_row(values: Any) -> str:
    cells = [
        _cell(value).ljust(width)
        for value, (_, width) in zip(values, WATCH_COLUMNS, strict=True)
    ]
    return "  ".join(cells).rstrip()


class ProgressLine:
    """A status line on a stream, usually stderr.

    On a terminal each update overwrites the last one. Elsewhere, such as a
    log file or a pipe, each update is a line of its own.
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stderr
        self._tty = self._stream.isatty()
        self._last = ""

    @property
    def is_tty(self) -> bool:
        return self._tty

    def update(self, text: str) -> None:
        if text == self._last:
            return
        self._last = text
        if self._tty:
            # Clear to the end of the line in case the new text is shorter.
            self._stream.write("\r" + text + "\x1b[K")
        else:
            self._stream.write(text + "\n")
        self._stream.flush()

    def finish(self) -> None:
        if self._tty and self._last:
            self._stream.write("\n")
            self._stream.flush()
