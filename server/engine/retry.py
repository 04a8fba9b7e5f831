"""Retry policy resolution and backoff delays."""

from __future__ import annotations

from workpool_server.engine.model import (
    NO_RETRY,
    PoolSettings,
    RetryChoice,
    RetryPolicy,
)

# Any single backoff delay is clamped to 7 days, so that a large base or
# attempt count cannot overflow or schedule work beyond any useful horizon.
MAX_BACKOFF_US = 7 * 24 * 3600 * 1_000_000


def resolve_policy(
    pool: PoolSettings, choice: RetryChoice, custom: RetryPolicy | None
) -> RetryPolicy:
    if choice is RetryChoice.CUSTOM and custom is not None:
        return custom
    if choice is RetryChoice.POOL_POLICY:
        return pool.default_retry
    if choice is RetryChoice.NONE:
        return NO_RETRY
    return pool.default_retry if pool.retry_by_default else NO_RETRY


def backoff_us(policy: RetryPolicy, finished_attempt: int, random_value: float) -> int:
    """Return the delay before attempt `finished_attempt + 1`.

    The nominal delay is initial_backoff * base^(finished_attempt - 1); a
    jitter factor in [0.5, 1.5) drawn from `random_value` (in [0, 1))
    multiplies it, and max_backoff, then MAX_BACKOFF_US, cap it.
    """
    exponent = max(finished_attempt - 1, 0)
    try:
        nominal = policy.initial_backoff_us * policy.base**exponent
    except OverflowError:
        nominal = float(MAX_BACKOFF_US)

    delay = nominal * (0.5 + random_value)
    if policy.max_backoff_us is not None:
        delay = min(delay, policy.max_backoff_us)
    return int(min(delay, MAX_BACKOFF_US))
