"""Work item ids: "wk_" and a 26-character ULID, sortable by creation time."""

from __future__ import annotations

import os
import re
import threading

WORK_ID_PREFIX = "wk_"
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_WORK_ID = re.compile(r"^wk_[0-7][0-9ABCDEFGHJKMNPQRSTVWXYZ]{25}$")


# Every pair of digits, indexed by the 10 bits it encodes. One lookup per two
# digits halves the Python steps of each id, and every enqueued item needs one.
_PAIRS = [high + low for high in _CROCKFORD for low in _CROCKFORD]


def _encode(value: int, length: int) -> str:
    """Return `value` as `length` Crockford base32 digits; `length` is even."""
    pairs = []
    for _ in range(length // 2):
        pairs.append(_PAIRS[value & 1023])
        value >>= 10
    pairs.reverse()
    return "".join(pairs)


class WorkIdGenerator:
    """Issue ULID-based ids that increase even within one millisecond."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last_millis = -1
        self._last_random = 0

    def new_id(self, now_us: int) -> str:
        millis = now_us // 1_000
        with self._lock:
            if millis <= self._last_millis:
                millis = self._last_millis
                self._last_random += 1
            else:
                self._last_random = int.from_bytes(os.urandom(10), "big") >> 1
            self._last_millis = millis
            randomness = self._last_random & ((1 << 80) - 1)
        return WORK_ID_PREFIX + _encode(millis, 10) + _encode(randomness, 16)


def is_valid_work_id(value: str) -> bool:
    return _WORK_ID.match(value) is not None
