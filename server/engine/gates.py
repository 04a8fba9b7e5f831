"""Start gates of a pool: the token bucket of its rate limit and the state
machine of its circuit breaker. Pure functions of stored state and time."""

from __future__ import annotations

import math
from dataclasses import dataclass

from workpool_server.engine.model import CircuitBreaker, CircuitState, RateLimit

# Refills are computed in floating point, so a bucket read exactly at the
# time of its next token may hold 0.9999999; this slack counts that as one.
_TOKEN_SLACK = 1e-9


@dataclass(frozen=True)
class Bucket:
    """Tokens of a rate limit as of `refilled_at_us`."""

    tokens: float
    refilled_at_us: int


def refill(limit: RateLimit, bucket: Bucket | None, now_us: int) -> Bucket:
    """Return the bucket at `now_us`; a bucket never used starts full."""
    if bucket is None:
        return Bucket(float(limit.burst), now_us)
    elapsed_us = max(now_us - bucket.refilled_at_us, 0)
    tokens = bucket.tokens + elapsed_us * limit.per_second / 1_000_000
    return Bucket(min(tokens, float(limit.burst)), max(now_us, bucket.refilled_at_us))


def whole_tokens(bucket: Bucket) -> int:
    """Return the number of starts the bucket allows now."""
    return max(math.floor(bucket.tokens + _TOKEN_SLACK), 0)


def next_token_us(limit: RateLimit, bucket: Bucket) -> int:
    """Return the time at which the bucket next contains a whole token."""
    if bucket.tokens + _TOKEN_SLACK >= 1:
        return bucket.refilled_at_us
    missing = 1.0 - bucket.tokens
    return bucket.refilled_at_us + math.ceil(missing * 1_000_000 / limit.per_second)


@dataclass(frozen=True)
class BreakerState:
    """Stored state of a circuit breaker.

    While HALF_OPEN, `probe_work_id` and `probe_attempt` name the one attempt
    allowed to start, or are None until it starts.
    """

    state: CircuitState = CircuitState.CLOSED
    open_until_us: int | None = None
    counted_from_us: int | None = None
    probe_work_id: str | None = None
    probe_attempt: int | None = None


@dataclass(frozen=True)
class ProbeOutcome:
    """Outcome of a HALF_OPEN breaker's probe attempt."""

    running: bool
    failed: bool | None
    """True or False once the probe's attempt ended and was counted."""


def counting_window_start(
    breaker: CircuitBreaker, state: BreakerState, now_us: int
) -> int:
    """Return the earliest end time of the attempts that count toward the rate."""
    start = now_us - breaker.window_us
    if state.counted_from_us is not None:
        start = max(start, state.counted_from_us)
    return start


def advance_breaker(
    breaker: CircuitBreaker,
    state: BreakerState,
    now_us: int,
    ended: int,
    failed: int,
    probe: ProbeOutcome | None,
) -> BreakerState:
    """Return the breaker state at `now_us`.

    `ended` and `failed` count the attempts since `counting_window_start`;
    `probe` is the outcome of the HALF_OPEN probe, when one started.
    """
    if state.state is CircuitState.OPEN:
        if state.open_until_us is not None and now_us < state.open_until_us:
            return state
        state = BreakerState(CircuitState.HALF_OPEN)

    if state.state is CircuitState.HALF_OPEN:
        if state.probe_work_id is None or probe is None:
            return state
        if probe.failed is True:
            return BreakerState(CircuitState.OPEN, now_us + breaker.cool_down_us)
        if probe.failed is False:
            return BreakerState(CircuitState.CLOSED, counted_from_us=now_us)
        if probe.running:
            return state
        # The probe ended without a counted result (it was canceled), so
        # another item may probe.
        return BreakerState(CircuitState.HALF_OPEN)

    if ended >= breaker.min_attempts and failed >= breaker.failure_rate * ended:
        return BreakerState(CircuitState.OPEN, now_us + breaker.cool_down_us)
    return state


def breaker_allows(state: BreakerState) -> int | None:
    """Return how many new starts the breaker allows, None for no limit."""
    if state.state is CircuitState.CLOSED:
        return None
    if state.state is CircuitState.HALF_OPEN and state.probe_work_id is None:
        return 1
    return 0
