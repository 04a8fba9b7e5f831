"""Names and limits every entry point enforces: the API and the config file."""

from __future__ import annotations

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
    return problems
