"""Time sources for the engine.

Times inside the server are integer microseconds since the Unix epoch, in UTC,
so that SQLite and PostgreSQL store and compare them the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

MICROS_PER_SECOND = 1_000_000


def to_micros(delta: timedelta) -> int:
    return (
        delta.days * 86_400 * MICROS_PER_SECOND
        + delta.seconds * MICROS_PER_SECOND
        + delta.microseconds
    )


def from_micros(micros: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)


def datetime_to_micros(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("datetime must be timezone-aware")
    return to_micros(moment - datetime(1970, 1, 1, tzinfo=UTC))


class Clock(ABC):
    """The engine's source of the current time and of jitter."""

    @abstractmethod
    def now_us(self) -> int:
        """Return the current time in microseconds since the epoch (UTC)."""

    @abstractmethod
    async def wait(self, event: asyncio.Event, deadline_us: int | None) -> None:
        """Wait until `event` is set or the clock reaches `deadline_us`."""

    def random(self) -> float:
        """Return a number in [0, 1) for retry jitter."""
        return random.random()


class SystemClock(Clock):
    def now_us(self) -> int:
        return time.time_ns() // 1_000

    async def wait(self, event: asyncio.Event, deadline_us: int | None) -> None:
        if deadline_us is None:
            await event.wait()
            return

        timeout = (deadline_us - self.now_us()) / MICROS_PER_SECOND
        if timeout <= 0:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)


class FakeClock(Clock):
    """A clock that moves only when a test calls `advance`.

    `random_source` replaces the jitter draw: a constant 0.5 gives a jitter
    factor of exactly 1.
    """

    def __init__(
        self,
        start: datetime | None = None,
        random_source: Callable[[], float] | None = None,
    ) -> None:
        start = start or datetime(2030, 1, 1, tzinfo=UTC)
        self._now_us = datetime_to_micros(start)
        self._random_source = random_source or random.random
        self._changed: asyncio.Event | None = None

    def now_us(self) -> int:
        return self._now_us

    def random(self) -> float:
        return self._random_source()

    def set_random_source(self, source: Callable[[], float]) -> None:
        self._random_source = source

    def advance(self, delta: timedelta) -> None:
        if delta < timedelta(0):
            raise ValueError("a fake clock cannot move backwards")
        self._now_us += to_micros(delta)
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    async def wait(self, event: asyncio.Event, deadline_us: int | None) -> None:
        while not event.is_set():
            if deadline_us is not None and self._now_us >= deadline_us:
                return
            if self._changed is None:
                self._changed = asyncio.Event()
            changed = self._changed
            event_task = asyncio.ensure_future(event.wait())
            changed_task = asyncio.ensure_future(changed.wait())
            try:
                await asyncio.wait(
                    {event_task, changed_task}, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                event_task.cancel()
                changed_task.cancel()
