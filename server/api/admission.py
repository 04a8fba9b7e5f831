"""Bounds on open streams and queued writes, checked before work is accepted.

Each open stream costs the server memory for its HTTP/2 buffers and a task,
and each queued write keeps its request in memory until the database takes it. Past
these bounds a call is rejected at once, so that an overload ends in a clear
status and not in a server that grows until it fails.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from workpool_server.errors import LimitExceededError, UnavailableError


class StreamSlots:
    """Counts the open streams of one kind against the setting that bounds them."""

    def __init__(self, setting: str, limit: int) -> None:
        self.setting = setting
        self.limit = limit
        self.open = 0

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """Take one slot for the duration of a stream.

        Raises LimitExceededError, which becomes RESOURCE_EXHAUSTED, when
        every slot is taken.
        """
        if self.open >= self.limit:
            raise LimitExceededError(
                self.setting,
                f"{self.open} streams are open, the server's limit of "
                f"{self.limit}: retry later, or raise {self.setting}",
            )
        self.open += 1
        try:
            yield
        finally:
            self.open -= 1


class WriteBacklog:
    """Rejects enqueues and cancels while too many writes wait for the database."""

    def __init__(self, queued: Callable[[], int], limit: int) -> None:
        self._queued = queued
        self.limit = limit

    def check(self) -> None:
        queued = self._queued()
        if queued >= self.limit:
            raise UnavailableError(
                f"{queued} writes are waiting for the database, the server's "
                f"max_queued_writes limit of {self.limit}: retry with backoff"
            )
