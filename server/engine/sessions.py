"""Worker streams connected to this server process."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field

from workpool_server.engine.model import Assignment, CancelCause, ResultAck


@dataclass(frozen=True)
class CancelMessage:
    work_id: str
    attempt: int
    cause: CancelCause


@dataclass
class Outgoing:
    """Messages queued for one worker stream, sent together."""

    assignments: list[Assignment] = field(default_factory=list)
    cancels: list[CancelMessage] = field(default_factory=list)
    acks: list[ResultAck] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.assignments or self.cancels or self.acks)


@dataclass
class WorkerSession:
    """One open WorkerService.Work stream.

    `credits` counts the free slots the worker has granted; each assignment
    takes one. `running` maps the work ids leased to this stream to their
    attempt numbers.
    """

    name: str
    pools: frozenset[str]
    functions: frozenset[str]
    capacity: int
    owner: str = field(default_factory=lambda: "ws_" + uuid.uuid4().hex)
    credits: int = 0
    running: dict[str, int] = field(default_factory=dict)
    closed: bool = False
    ending: bool = False
    error: Exception | None = None
    _outgoing: Outgoing = field(default_factory=Outgoing)
    _ready: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.credits = self.capacity

    def send_assignment(self, assignment: Assignment) -> None:
        self.credits -= 1
        self.running[assignment.work_id] = assignment.attempt
        self._outgoing.assignments.append(assignment)
        self._ready.set()

    def send_cancel(self, work_id: str, attempt: int, cause: CancelCause) -> None:
        # After a lost lease or a timeout the attempt has ended on the server.
        if cause is not CancelCause.REQUESTED:
            self.running.pop(work_id, None)
        self._outgoing.cancels.append(CancelMessage(work_id, attempt, cause))
        self._ready.set()

    def send_acks(self, acks: list[ResultAck]) -> None:
        self._outgoing.acks.extend(acks)
        self._ready.set()

    def wake(self) -> None:
        self._ready.set()

    def end(self) -> None:
        """Ask the stream's sender to finish: the server is shutting down."""
        self.ending = True
        self._ready.set()

    async def next_outgoing(self) -> Outgoing | None:
        """Wait for queued messages; return None once the stream should end."""
        while True:
            if self._outgoing:
                outgoing, self._outgoing = self._outgoing, Outgoing()
                return outgoing
            if self.ending or self.closed:
                return None
            self._ready.clear()
            await self._ready.wait()
