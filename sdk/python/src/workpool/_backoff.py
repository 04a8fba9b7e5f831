"""Capped exponential backoff with jitter for reconnecting streams."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """Delays between reconnect attempts.

    The n-th delay since the last ``reset`` is ``initial * multiplier ** n``
    multiplied by a random factor in [0.5, 1.5), then capped by ``maximum``.
    The jitter keeps many clients that lost the same server from reconnecting
    at the same instant.
    """

    initial: float = 0.2
    maximum: float = 10.0
    multiplier: float = 2.0
    random_factor: Callable[[], float] = field(default=random.random, repr=False)
    _failures: int = field(default=0, init=False)

    def next_delay(self) -> float:
        """Return the delay in seconds before the next attempt and count a failure."""
        exponent = min(self._failures, 64)
        self._failures += 1

        delay = self.initial * self.multiplier**exponent
        delay *= 0.5 + self.random_factor()
        return min(delay, self.maximum)

    def reset(self) -> None:
        """Start again from the initial delay, after a successful connection."""
        self._failures = 0
