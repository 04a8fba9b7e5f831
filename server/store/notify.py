"""PostgreSQL LISTEN/NOTIFY between server replicas.

Replicas share one database, so an enqueue, a result or a cancel accepted by
one replica must reach the others at once: to wake their dispatch loops, to
feed their WatchCompletions streams, and to deliver cancel requests to the
worker streams they hold. Each notification is sent inside the transaction
that caused it, so PostgreSQL delivers it only after the commit.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable

import psycopg
from sqlalchemy.engine import make_url

logger = logging.getLogger(__name__)

WAKE_CHANNEL = "workpool_wake"
COMPLETIONS_CHANNEL = "workpool_completions"
CANCEL_CHANNEL = "workpool_cancel"
CHANNELS = (WAKE_CHANNEL, COMPLETIONS_CHANNEL, CANCEL_CHANNEL)

# How long the listener blocks before it checks whether it should stop.
_POLL_SECONDS = 0.5
_RECONNECT_SECONDS = 1.0


def libpq_url(sqlalchemy_url: str) -> str:
    """Turn a SQLAlchemy URL (postgresql+psycopg://...) into a libpq URI."""
    url = make_url(sqlalchemy_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


class Listener:
    """Listen on the workpool channels in a thread; call back on the loop.

    After a lost connection it reconnects and calls `on_reconnect`, because
    notifications sent while it was away are lost: the engine then rereads
    what it may have missed.
    """

    def __init__(
        self,
        url: str,
        loop: asyncio.AbstractEventLoop,
        on_notify: Callable[[str, str], None],
        on_reconnect: Callable[[], None],
    ) -> None:
        self._url = libpq_url(url)
        self._loop = loop
        self._on_notify = on_notify
        self._on_reconnect = on_reconnect
        self._stopping = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="workpool-listener", daemon=True
        )

    def start(self, timeout: float = 10.0) -> None:
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError("LISTEN connection to PostgreSQL timed out")

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        first = True
        while not self._stopping.is_set():
            try:
                with psycopg.connect(self._url, autocommit=True) as connection:
                    for channel in CHANNELS:
                        connection.execute(f"LISTEN {channel}")
                    self._ready.set()
                    if not first:
                        self._loop.call_soon_threadsafe(self._on_reconnect)
                    first = False
                    self._listen(connection)
            except psycopg.Error:
                logger.warning(
                    "notification listener lost its connection",
                    extra={"event": "listener_disconnected"},
                    exc_info=True,
                )
                time.sleep(_RECONNECT_SECONDS)

    def _listen(self, connection: psycopg.Connection) -> None:
        while not self._stopping.is_set():
            for notification in connection.notifies(timeout=_POLL_SECONDS):
                self._loop.call_soon_threadsafe(
                    self._on_notify, notification.channel, notification.payload
                )
                if self._stopping.is_set():
                    return
