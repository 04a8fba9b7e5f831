"""State of one worker stream and of the attempts assigned on it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from workpool._handlers import WorkContext
from workpool._times import from_duration
from workpool.v1 import worker_service_pb2

# Used when the welcome carries no heartbeat interval.
_FALLBACK_HEARTBEAT_SECONDS = 10.0

AttemptKey = tuple[str, int]


@dataclass(eq=False)
class Attempt:
    """One assignment from its arrival until its result is queued or dropped."""

    session: Session
    context: WorkContext
    task: asyncio.Task[None] | None = None
    lease_lost: bool = False
    trace_context: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> AttemptKey:
        return (self.context.work_id, self.context.attempt)

    def log_extra(self) -> dict[str, Any]:
        return {
            "work_id": self.context.work_id,
            "attempt": self.context.attempt,
            "function": self.context.function,
            "pool": self.context.pool,
            "worker_id": self.session.worker_id,
        }


class Session:
    """State of one Work stream, from its welcome until it ends."""

    def __init__(
        self,
        call: Any,
        welcome: worker_service_pb2.Welcome,
    ) -> None:
        self.call = call
        self.worker_id = welcome.worker_id
        interval = from_duration(welcome.heartbeat_interval).total_seconds()
        self.heartbeat_seconds = (
            interval if interval > 0 else _FALLBACK_HEARTBEAT_SECONDS
        )

        self.running: dict[AttemptKey, Attempt] = {}
        self.results: list[worker_service_pb2.AttemptResult] = []
        self.unacked: set[AttemptKey] = set()
        self.credit = 0
        self.heartbeat_due = False
        self.closed = False
        # Set whenever there is something for the sender to send.
        self.wake = asyncio.Event()

    def heartbeat_ids(self) -> list[str]:
        """Return the ids whose leases this stream still holds."""
        ids = {
            key[0] for key, attempt in self.running.items() if not attempt.lease_lost
        }
        return sorted(ids)

    def is_idle(self) -> bool:
        """Return True when every result was sent and acknowledged."""
        return not self.running and not self.results and not self.unacked

    def next_request(self) -> worker_service_pb2.WorkRequest | None:
        """Take everything waiting to be sent into one WorkRequest."""
        request = worker_service_pb2.WorkRequest()
        if self.results:
            request.results.extend(self.results)
            self.results.clear()
        if self.credit > 0:
            request.credit.count = self.credit
            self.credit = 0
        if self.heartbeat_due:
            self.heartbeat_due = False
            ids = self.heartbeat_ids()
            if ids:
                request.heartbeat.work_ids.extend(ids)

        if (
            request.results
            or request.HasField("credit")
            or request.HasField("heartbeat")
        ):
            return request
        return None
