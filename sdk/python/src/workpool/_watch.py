"""Resume bookkeeping of a WatchCompletions subscription, shared by both clients."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import grpc

from workpool._models import Completion
from workpool._proto import completion_from_proto, watch_request
from workpool.v1 import workpool_service_pb2

logger = logging.getLogger(__name__)

# Codes after which a watch reconnects and resumes. A server that shuts down,
# and a connection that breaks or fails its keepalive, all end the call with
# UNAVAILABLE; every other code is raised to the caller.
RESUMABLE_CODES = frozenset({grpc.StatusCode.UNAVAILABLE})


class WatchCursor:
    """Position of a watch in the completion log.

    ``last_sequence`` is the sequence to resume after, and starts at the
    caller's ``after_sequence``. When that is None, the first response sets it
    to the log's head, so a reconnect replays what happened in between.
    """

    def __init__(
        self,
        pools: Sequence[str],
        work_ids: Sequence[str],
        after_sequence: int | None,
    ) -> None:
        if after_sequence is not None and (
            isinstance(after_sequence, bool) or not isinstance(after_sequence, int)
        ):
            raise TypeError(
                f"after_sequence must be an int or None, got {after_sequence!r}"
            )

        # Validate once, before the first connection.
        watch_request(pools, work_ids, after_sequence)
        self._pools = list(pools)
        self._work_ids = list(work_ids)
        self.last_sequence = after_sequence

    def request(self) -> workpool_service_pb2.WatchCompletionsRequest:
        """Build the request that resumes after the last sequence."""
        return watch_request(self._pools, self._work_ids, self.last_sequence)

    def accept(
        self, response: workpool_service_pb2.WatchCompletionsResponse
    ) -> list[Completion]:
        """Return the response's completions not yielded before, and advance."""
        completions: list[Completion] = []
        for message in response.completions:
            # A replay after a reconnect may repeat entries already yielded.
            if (
                self.last_sequence is not None
                and message.sequence <= self.last_sequence
            ):
                continue
            completions.append(completion_from_proto(message))
            self.last_sequence = message.sequence

        if self.last_sequence is None:
            self.last_sequence = response.head_sequence
        return completions


def log_watch_interrupted(
    cursor: WatchCursor, error: grpc.RpcError | None, *, connected: bool
) -> None:
    """Log why a watch reconnects.

    A stream that had delivered messages logs at INFO; a failed connection
    attempt logs at DEBUG, so a long server outage does not flood the logs.
    """
    extra: dict[str, object] = {"after_sequence": cursor.last_sequence}
    if error is not None:
        extra["code"] = error.code().name
        extra["details"] = error.details()

    if not connected:
        logger.debug("Completion watch failed to connect; retrying", extra=extra)
    elif error is None:
        logger.info("Server ended the completion watch; reconnecting", extra=extra)
    else:
        logger.info("Completion watch disconnected; reconnecting", extra=extra)
