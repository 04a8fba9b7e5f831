"""Names and limits every entry point enforces: the API and the config file."""

from __future__ import annotations

import math
import re

from workpool_server.engine.model import PoolSettings

POOL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
FUNCTION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.:/-]{0,255}")
MAX_IDEMPOTENCY_KEY = 256
MAX_ATTEMPTS_LIMIT = 10_000
MAX_PARALLELISM_LIMIT = 100_000
# run_at and run_after may reach at most this far ahead.
MAX_SCHEDULE_AHEAD_US = 366 * 24 * 3600 * 1_000_000
MAX_STATUS_TTL_US = 3650 * 24 * 3600 * 1_000_000
MAX_ERROR_CHARS = 16 * 1024
# Deepest nesting of lists and structs in a payload. It keeps every message
# that carries a payload (a worker's result inside its request, say) well
# below protobuf's recursion limit of 100 nested messages.
MAX_VALUE_DEPTH = 32
MAX_WORKER_NAME = 256
MAX_WORKER_CAPACITY = 10_000

POOL_NAME_RULE = (
    "use 1 to 128 letters, digits, '.', '_' or '-', starting with a letter or digit"
)
FUNCTION_NAME_RULE = (
    "use 1 to 256 letters, digits, '_', '.', ':', '/' or '-', starting with a "
    "letter or '_'"
)


def is_pool_name(name: str) -> bool:
    return POOL_NAME.fullmatch(name) is not None


def is_function_name(name: str) -> bool:
    return FUNCTION_NAME.fullmatch(name) is not None


def pool_settings_problems(settings: PoolSettings) -> list[tuple[str, str]]:
    """Return (setting, problem) pairs for settings outside the limits."""
    problems: list[tuple[str, str]] = []
    if not is_pool_name(settings.name):
        problems.append(
            ("name", f"invalid pool name {settings.name!r}: {POOL_NAME_RULE}")
        )
    if not 0 <= settings.max_parallelism <= MAX_PARALLELISM_LIMIT:
        problems.append(
            (
                "max_parallelism",
                f"must be between 0 (paused) and {MAX_PARALLELISM_LIMIT}, "
                f"got {settings.max_parallelism}",
            )
        )
    policy = settings.default_retry
    if not 1 <= policy.max_attempts <= MAX_ATTEMPTS_LIMIT:
        problems.append(
            (
                "retry.max_attempts",
                f"must be between 1 and {MAX_ATTEMPTS_LIMIT}, "
                f"got {policy.max_attempts}",
            )
        )
    if not policy.base >= 1 or policy.base == float("inf"):
        problems.append(
            ("retry.base", f"must be a finite number of 1 or more, got {policy.base}")
        )
    if (
        settings.status_ttl_us is not None
        and settings.status_ttl_us > MAX_STATUS_TTL_US
    ):
        problems.append(
            ("status_ttl", "is longer than 3650 days: set keep_status_forever instead")
        )
    problems.extend(scheduling_problems(settings))
    return problems


# Scheduling limits. Durations are bounded so that priority * aging and the
# token-bucket arithmetic stay far inside 64-bit integers and doubles.
CONCURRENCY_KEY = re.compile(r"[A-Za-z0-9_.:/@+=-]{1,256}")
CONCURRENCY_KEY_RULE = (
    "use 1 to 256 letters, digits, '_', '.', ':', '/', '@', '+', '=' or '-'"
)
MAX_PRIORITY = 1_000_000
MAX_SCHEDULING_DURATION_US = 24 * 3600 * 1_000_000
MAX_ATTEMPT_TIMEOUT_US = 7 * 24 * 3600 * 1_000_000
MAX_RATE_PER_SECOND = 1_000_000.0
MAX_RATE_BURST = 1_000_000
MAX_BREAKER_MIN_ATTEMPTS = 1_000_000


def is_concurrency_key(key: str) -> bool:
    return CONCURRENCY_KEY.fullmatch(key) is not None


def duration_problem(value_us: int, limit_us: int, limit_text: str) -> str | None:
    """Describe why a duration that must be positive and bounded is invalid."""
    if value_us <= 0:
        return f"must be above 0, got {value_us / 1_000_000}s"
    if value_us > limit_us:
        return f"must be at most {limit_text}, got {value_us / 1_000_000}s"
    return None


def scheduling_problems(settings: PoolSettings) -> list[tuple[str, str]]:
    """Return (setting, problem) pairs for scheduling settings out of range.

    The store checks that the parent exists, because it reads the other pools.
    """
    problems: list[tuple[str, str]] = []
    if not 0 <= settings.max_per_key <= MAX_PARALLELISM_LIMIT:
        problems.append(
            (
                "max_per_key",
                f"must be between 0 (no limit) and {MAX_PARALLELISM_LIMIT}, "
                f"got {settings.max_per_key}",
            )
        )
    durations = [
        ("priority_aging", settings.priority_aging_us, MAX_SCHEDULING_DURATION_US),
        (
            "default_attempt_timeout",
            settings.default_attempt_timeout_us,
            MAX_ATTEMPT_TIMEOUT_US,
        ),
    ]
    breaker = settings.circuit_breaker
    if breaker is not None:
        durations.append(
            ("circuit_breaker.window", breaker.window_us, MAX_SCHEDULING_DURATION_US)
        )
        durations.append(
            (
                "circuit_breaker.cool_down",
                breaker.cool_down_us,
                MAX_SCHEDULING_DURATION_US,
            )
        )
        if not (math.isfinite(breaker.failure_rate) and 0 < breaker.failure_rate <= 1):
            problems.append(
                (
                    "circuit_breaker.failure_rate",
                    f"must be above 0 and at most 1, got {breaker.failure_rate}",
                )
            )
        if not 1 <= breaker.min_attempts <= MAX_BREAKER_MIN_ATTEMPTS:
            problems.append(
                (
                    "circuit_breaker.min_attempts",
                    f"must be between 0 (meaning 10) and {MAX_BREAKER_MIN_ATTEMPTS}, "
                    f"got {breaker.min_attempts}",
                )
            )
    for name, value_us, limit_us in durations:
        if value_us is None:
            continue
        limit_text = "7 days" if limit_us == MAX_ATTEMPT_TIMEOUT_US else "1 day"
        problem = duration_problem(value_us, limit_us, limit_text)
        if problem is not None:
            problems.append((name, problem))

    rate = settings.rate_limit
    if rate is not None:
        if not (math.isfinite(rate.per_second) and rate.per_second > 0):
            problems.append(
                (
                    "rate_limit.per_second",
                    f"must be a finite number above 0, got {rate.per_second}",
                )
            )
        elif rate.per_second > MAX_RATE_PER_SECOND:
            problems.append(
                (
                    "rate_limit.per_second",
                    f"must be at most {MAX_RATE_PER_SECOND:.0f}, got {rate.per_second}",
                )
            )
        if not 1 <= rate.burst <= MAX_RATE_BURST:
            problems.append(
                (
                    "rate_limit.burst",
                    f"must be between 0 (meaning 1) and {MAX_RATE_BURST}, "
                    f"got {rate.burst}",
                )
            )
    if settings.parent is not None:
        if not is_pool_name(settings.parent):
            problems.append(
                (
                    "parent",
                    f"invalid pool name {settings.parent[:140]!r}: {POOL_NAME_RULE}",
                )
            )
        elif settings.parent == settings.name:
            problems.append(
                (
                    "parent",
                    "names the pool itself: name another pool, or leave it empty",
                )
            )
    return problems
