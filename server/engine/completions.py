"""Live fan-out of the completion log to WatchCompletions streams."""

from __future__ import annotations

import asyncio
import logging
from collections import deque

from workpool_server.engine.model import CompletionRecord

logger = logging.getLogger(__name__)

# Recent completions kept in memory so that subscribers that keep up never
# read the database. Older entries are read from the completion log table.
DEFAULT_RING_ENTRIES = 20_000
DEFAULT_RING_BYTES = 64 * 1024 * 1024


def record_bytes(record: CompletionRecord) -> int:
    """Estimate a completion's size in memory and on the wire."""
    return (
        200
        + len(record.outcome.return_value or b"")
        + len(record.outcome.error)
        + len(record.context or b"")
    )


class CompletionHub:
    def __init__(
        self,
        max_entries: int = DEFAULT_RING_ENTRIES,
        max_bytes: int = DEFAULT_RING_BYTES,
    ) -> None:
        self._ring: deque[CompletionRecord] = deque()
        self._ring_bytes = 0
        self._max_entries = max_entries
        self._max_bytes = max_bytes
        self.head = 0
        self._changed = asyncio.Event()
        self.subscribers = 0

    @property
    def buffered(self) -> int:
        """Number of recent completions held in memory."""
        return len(self._ring)

    def reset(self, head: int) -> None:
        self._ring.clear()
        self._ring_bytes = 0
        self.head = head

    def publish(self, records: list[CompletionRecord]) -> None:
        """Append committed completions, which arrive in sequence order."""
        if not records:
            return
        records = [record for record in records if record.sequence > self.head]
        if not records:
            return
        if records[0].sequence != self.head + 1 or any(
            later.sequence != earlier.sequence + 1
            for earlier, later in zip(records, records[1:], strict=False)
        ):
            # since() indexes the ring by sequence, so it must stay gap-free:
            # after a gap, readers fall back to the database.
            logger.warning(
                "completion log gap in memory; replaying from the database",
                extra={"event": "completion_gap", "head": self.head},
            )
            self._ring.clear()
            self._ring_bytes = 0
        for record in records:
            self._ring.append(record)
            self._ring_bytes += record_bytes(record)
        while self._ring and (
            len(self._ring) > self._max_entries or self._ring_bytes > self._max_bytes
        ):
            self._ring_bytes -= record_bytes(self._ring.popleft())
        self.head = records[-1].sequence
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def since(self, after: int, limit: int) -> list[CompletionRecord] | None:
        """Return up to `limit` entries after `after`, or None when the ring
        no longer contains the next one."""
        if after >= self.head:
            return []
        if not self._ring or self._ring[0].sequence > after + 1:
            return None
        start = after + 1 - self._ring[0].sequence
        end = min(start + limit, len(self._ring))
        return [self._ring[index] for index in range(start, end)]

    async def wait_beyond(self, sequence: int, stop: asyncio.Event) -> None:
        """Wait until the head passes `sequence` or `stop` is set."""
        while self.head <= sequence and not stop.is_set():
            changed = self._changed
            waiters = {
                asyncio.ensure_future(changed.wait()),
                asyncio.ensure_future(stop.wait()),
            }
            try:
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in waiters:
                    waiter.cancel()
