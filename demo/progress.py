"""The live progress line: per-pool counts of pending, running and finished items."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TextIO

import workpool


@dataclass(frozen=True)
class PoolProgress:
    """Counts of one pool's enqueued items, from their status."""

    pool: str
    total: int
    pending: int = 0
    retrying: int = 0
    running: int = 0
    finished: int = 0

    @classmethod
    def from_statuses(
        cls, pool: str, statuses: Iterable[workpool.WorkStatus]
    ) -> PoolProgress:
        counts = {"pending": 0, "retrying": 0, "running": 0, "finished": 0}
        total = 0
        for status in statuses:
            total += 1
            if status.state is workpool.WorkState.PENDING:
                counts["pending"] += 1
                # A pending item with an attempt behind it waits for its retry.
                if status.previous_attempts > 0:
                    counts["retrying"] += 1
            elif status.state is workpool.WorkState.RUNNING:
                counts["running"] += 1
            elif status.state is workpool.WorkState.FINISHED:
                counts["finished"] += 1
        return cls(pool=pool, total=total, **counts)

    def describe(self) -> str:
        pending = f"{self.pending} pending"
        if self.retrying:
            pending += f" ({self.retrying} retrying)"
        return (
            f"{self.pool}: {pending}, {self.running} running, "
            f"{self.finished}/{self.total} finished"
        )


class ProgressDisplay:
    """Writes the progress line in place on a terminal, or one line per change.

    On a terminal the line is redrawn after a carriage return. Elsewhere, such
    as a CI log or a pipe, each different line is printed once.
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._in_place = stream.isatty()
        self._last = ""

    def show(self, line: str) -> None:
        if line == self._last:
            return
        if self._in_place:
            # Pad with spaces to erase the rest of a longer previous line.
            padding = " " * max(len(self._last) - len(line), 0)
            self._stream.write(f"\r{line}{padding}")
        else:
            self._stream.write(f"{line}\n")
        self._stream.flush()
        self._last = line

    def close(self) -> None:
        """End the in-place line so later output starts on a new line."""
        if self._in_place and self._last:
            self._stream.write("\n")
            self._stream.flush()
        self._last = ""
