"""Server configuration: defaults, then a TOML file, then WORKPOOL_* variables,
then command-line flags. Validated once, at start."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from workpool_server.engine.model import (
    DEFAULT_BREAKER_MIN_ATTEMPTS,
    DEFAULT_MAX_PARALLELISM,
    DEFAULT_STATUS_TTL_US,
    CircuitBreaker,
    PoolSettings,
    RateLimit,
    RetryPolicy,
)
from workpool_server.limits import pool_settings_problems
from workpool_server.security import TokenEntry, token_entry_problems
from workpool_server.tracing import TRACING_MODES

ENV_PREFIX = "WORKPOOL_"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(us|ms|s|m|h|d)?\s*$")
_UNIT_MICROS = {
    "us": 1,
    "ms": 1_000,
    "s": 1_000_000,
    "m": 60_000_000,
    "h": 3_600_000_000,
    "d": 86_400_000_000,
}


class ConfigError(ValueError):
    """A setting is invalid. The message names it and the expected value."""


def parse_duration_us(text: str, setting: str) -> int:
    """Parse "250ms", "30s", "5m", "24h", "7d" or plain seconds."""
    match = _DURATION.match(str(text))
    if match is None:
        raise ConfigError(
            f"{setting}: invalid duration {text!r}: use a number with a unit "
            '(us, ms, s, m, h, d), such as "30s"'
        )
    number, unit = match.groups()
    return int(float(number) * _UNIT_MICROS[unit or "s"])


@dataclass(frozen=True)
class ServerConfig:
    database_url: str = "sqlite:///./workpool.db"
    listen: str = "127.0.0.1:50051"
    http_listen: str = "127.0.0.1:9464"
    """Metrics address; an empty string turns the HTTP listener off."""
    lease_us: int = 30_000_000
    heartbeat_interval_us: int = 10_000_000
    shutdown_grace_us: int = 10_000_000
    completion_retention_us: int = 24 * 3_600_000_000
    max_payload_bytes: int = 1024 * 1024
    max_batch_size: int = 10_000
    max_message_bytes: int = 64 * 1024 * 1024
    max_pool_labels: int = 200
    completion_buffer: int = 20_000
    sqlite_synchronous: str = "FULL"
    sqlite_busy_timeout_us: int = 30_000_000
    log_level: str = "INFO"
    log_format: str = "text"
    tls_cert_file: str = ""
    tls_key_file: str = ""
    tls_client_ca_file: str = ""
    """Set to require client certificates signed by this CA (mutual TLS)."""
    reflection: bool = True
    tracing: str = "off"
    """off, or otlp to export spans with OTLP over HTTP."""
    pools: tuple[PoolSettings, ...] = field(default=())
    tokens: tuple[TokenEntry, ...] = field(default=())
    """Empty leaves the gRPC port open to every caller that reaches it."""

    # Keepalive and overload bounds.
    keepalive_time_us: int = 60_000_000
    """Idle time after which the server pings a client connection."""
    keepalive_timeout_us: int = 20_000_000
    """How long the server waits for a ping's reply before it closes the
    connection and ends its streams."""
    max_watch_streams: int = 1_000
    max_worker_streams: int = 1_000
    max_queued_writes: int = 10_000
    """Write operations waiting for the database beyond which Enqueue,
    EnqueueBatch, Cancel and CancelAll get UNAVAILABLE."""

    def validate(self) -> ServerConfig:
        if not self.database_url.startswith(("sqlite", "postgresql")):
            raise ConfigError(
                f"database_url: unsupported URL {self.database_url!r}: use "
                "sqlite:///PATH or postgresql://USER@HOST/DB"
            )
        if ":memory:" in self.database_url:
            raise ConfigError(
                "database_url: an in-memory SQLite database is not supported: "
                "the writer and readers need one shared file"
            )
        for name in ("listen",):
            if not _is_address(getattr(self, name)):
                raise ConfigError(
                    f"{name}: invalid address {getattr(self, name)!r}: "
                    "use HOST:PORT, such as 127.0.0.1:50051"
                )
        if self.http_listen and not _is_address(self.http_listen):
            raise ConfigError(
                f"http_listen: invalid address {self.http_listen!r}: use HOST:PORT, "
                "or an empty value to turn metrics off"
            )
        if self.lease_us < 1_000_000:
            raise ConfigError("lease_duration: must be at least 1s")
        if not 0 < self.heartbeat_interval_us < self.lease_us:
            raise ConfigError(
                "heartbeat_interval: must be above 0 and shorter than lease_duration"
            )
        for name in (
            "max_payload_bytes",
            "max_batch_size",
            "max_message_bytes",
            "completion_buffer",
        ):
            if getattr(self, name) < 1:
                raise ConfigError(
                    f"{name}: must be 1 or more, got {getattr(self, name)}"
                )
        if self.max_pool_labels < 0:
            raise ConfigError(
                f"max_pool_labels: must be 0 or more, got {self.max_pool_labels}"
            )
        names = [pool.name for pool in self.pools]
        for index, name in enumerate(names):
            if name in names[:index]:
                raise ConfigError(
                    f"pools[{index}].name: pool {name!r} is declared twice; "
                    "merge the two [[pools]] entries"
                )
        if self.max_payload_bytes * 2 + 4096 > self.max_message_bytes:
            raise ConfigError(
                "max_message_bytes: must exceed twice max_payload_bytes, so that an "
                "item with full args and context fits in one message"
            )
        if self.sqlite_synchronous.upper() not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise ConfigError(
                "sqlite_synchronous: use OFF, NORMAL, FULL or EXTRA, got "
                f"{self.sqlite_synchronous!r}"
            )
        if self.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ConfigError(
                f"log_level: use DEBUG, INFO, WARNING or ERROR, got {self.log_level!r}"
            )
        if self.log_format not in ("text", "json"):
            raise ConfigError(f"log_format: use text or json, got {self.log_format!r}")
        self._validate_security()
        if self.tracing not in TRACING_MODES:
            raise ConfigError(
                f"tracing: use {' or '.join(TRACING_MODES)}, got {self.tracing!r}"
            )
        self._validate_overload_bounds()
        return self

    def _validate_security(self) -> None:
        if bool(self.tls_cert_file) != bool(self.tls_key_file):
            raise ConfigError(
                "tls_cert_file, tls_key_file: set both to serve TLS, or neither"
            )
        if self.tls_client_ca_file and not self.tls_cert_file:
            raise ConfigError(
                "tls_client_ca_file: mutual TLS needs tls_cert_file and "
                "tls_key_file too"
            )
        for name in ("tls_cert_file", "tls_key_file", "tls_client_ca_file"):
            path = getattr(self, name)
            if path and not os.access(path, os.R_OK):
                raise ConfigError(f"{name}: cannot read {path!r}")
        seen: set[str] = set()
        for index, entry in enumerate(self.tokens):
            problems = token_entry_problems(entry)
            if problems:
                setting, problem = problems[0]
                raise ConfigError(f"tokens[{index}].{setting}: {problem}")
            if entry.sha256 in seen:
                raise ConfigError(
                    f"tokens[{index}].sha256: the same token is listed twice; "
                    "merge the roles into one entry"
                )
            seen.add(entry.sha256)

    def _validate_overload_bounds(self) -> None:
        for name in ("keepalive_time", "keepalive_timeout"):
            if getattr(self, f"{name}_us") < 100_000:
                raise ConfigError(f"{name}: must be at least 100ms, such as 20s")
        for name in ("max_watch_streams", "max_worker_streams", "max_queued_writes"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name}: must be 1 or more")


def _is_address(value: str) -> bool:
    host, _, port = value.rpartition(":")
    return bool(host) and port.isdigit() and 0 <= int(port) < 65536


# Settings read as durations, with their config-file and flag names.
_DURATIONS = {
    "lease_duration": "lease_us",
    "heartbeat_interval": "heartbeat_interval_us",
    "shutdown_grace": "shutdown_grace_us",
    "completion_retention": "completion_retention_us",
    "sqlite_busy_timeout": "sqlite_busy_timeout_us",
    "keepalive_time": "keepalive_time_us",
    "keepalive_timeout": "keepalive_timeout_us",
}


def _boolean(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise ValueError(raw)


_boolean.__name__ = "true or false"

_PLAIN: dict[str, Callable[[Any], Any]] = {
    "database_url": str,
    "listen": str,
    "http_listen": str,
    "max_payload_bytes": int,
    "max_batch_size": int,
    "max_message_bytes": int,
    "max_pool_labels": int,
    "completion_buffer": int,
    "sqlite_synchronous": str,
    "log_level": str,
    "log_format": str,
    "max_watch_streams": int,
    "max_worker_streams": int,
    "max_queued_writes": int,
    "tls_cert_file": str,
    "tls_key_file": str,
    "tls_client_ca_file": str,
    "reflection": _boolean,
    "tracing": str,
}
SETTING_NAMES = tuple(_PLAIN) + tuple(_DURATIONS)


def _apply(
    config: ServerConfig, values: dict[str, Any], label: Callable[[str], str]
) -> ServerConfig:
    """Apply settings from one source; `label` spells a setting's name as
    that source does, for error messages."""
    changes: dict[str, Any] = {}
    for name, raw in values.items():
        if raw is None:
            continue
        if name in _DURATIONS:
            changes[_DURATIONS[name]] = parse_duration_us(raw, label(name))
        elif name in _PLAIN:
            try:
                changes[name] = _PLAIN[name](raw)
            except ValueError:
                raise ConfigError(
                    f"{label(name)}: invalid value {raw!r}: expected "
                    f"{_PLAIN[name].__name__}"
                ) from None
        else:
            raise ConfigError(
                f"{label(name)}: unknown setting: use one of "
                f"{', '.join(sorted(SETTING_NAMES))}"
            )
    return replace(config, **changes)


def _pool_from_table(table: dict[str, Any], index: int) -> PoolSettings:
    where = f"pools[{index}]"
    try:
        settings = _read_pool_table(table, where)
    except (TypeError, ValueError, AttributeError) as error:
        if isinstance(error, ConfigError):
            raise
        raise ConfigError(f"{where}: invalid value: {error}") from None
    problems = pool_settings_problems(settings)
    if problems:
        setting, problem = problems[0]
        raise ConfigError(f"{where}.{setting}: {problem}")
    return settings


def _read_pool_table(table: dict[str, Any], where: str) -> PoolSettings:
    known = {
        "name", "max_parallelism", "retry_by_default", "status_ttl",
        "keep_status_forever", "retry",
    } | _SCHEDULING_KEYS  # fmt: skip
    unknown = set(table) - known
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)}")
    name = table.get("name")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{where}.name: is required")

    retry = table.get("retry", {})
    policy = RetryPolicy(
        max_attempts=int(retry.get("max_attempts", 5)),
        initial_backoff_us=parse_duration_us(
            retry.get("initial_backoff", "250ms"), f"{where}.retry.initial_backoff"
        ),
        base=float(retry.get("base", 2.0)),
        max_backoff_us=(
            parse_duration_us(retry["max_backoff"], f"{where}.retry.max_backoff")
            if "max_backoff" in retry
            else None
        ),
    )
    ttl: int | None = DEFAULT_STATUS_TTL_US
    if table.get("keep_status_forever"):
        ttl = None
    elif "status_ttl" in table:
        ttl = parse_duration_us(table["status_ttl"], f"{where}.status_ttl")
    parallelism = int(table.get("max_parallelism", DEFAULT_MAX_PARALLELISM))
    return PoolSettings(
        name=name,
        max_parallelism=parallelism,
        retry_by_default=bool(table.get("retry_by_default", False)),
        default_retry=policy,
        status_ttl_us=ttl,
        **_read_scheduling(table, where),
    )


def _token_from_table(table: Any, index: int) -> TokenEntry:
    where = f"tokens[{index}]"
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: must be a table with name, sha256 and roles")
    unknown = set(table) - {"name", "sha256", "roles"}
    if unknown:
        raise ConfigError(
            f"{where}: unknown keys {sorted(unknown)}: use name, sha256 and roles"
        )
    roles = table.get("roles", [])
    if isinstance(roles, str) or not isinstance(roles, list):
        raise ConfigError(f'{where}.roles: must be a list, such as ["client"]')
    return TokenEntry(
        name=str(table.get("name", "")),
        sha256=str(table.get("sha256", "")),
        roles=frozenset(str(role) for role in roles),
    )


# Scheduling keys of a [[pools]] table. Their ranges are checked by
# pool_settings_problems, like those of the API.
_SCHEDULING_KEYS = {
    "max_per_key", "priority_aging", "rate_limit", "default_attempt_timeout",
    "circuit_breaker", "parent",
}  # fmt: skip


def _read_scheduling(table: dict[str, Any], where: str) -> dict[str, Any]:
    values: dict[str, Any] = {"max_per_key": int(table.get("max_per_key", 0))}
    if "priority_aging" in table:
        values["priority_aging_us"] = parse_duration_us(
            table["priority_aging"], f"{where}.priority_aging"
        )
    if "default_attempt_timeout" in table:
        values["default_attempt_timeout_us"] = parse_duration_us(
            table["default_attempt_timeout"], f"{where}.default_attempt_timeout"
        )
    if "rate_limit" in table:
        rate = _subtable(table, "rate_limit", {"per_second", "burst"}, where)
        if "per_second" not in rate:
            raise ConfigError(f"{where}.rate_limit.per_second: is required")
        values["rate_limit"] = RateLimit(
            float(rate["per_second"]), int(rate.get("burst", 0)) or 1
        )
    if "circuit_breaker" in table:
        keys = {"failure_rate", "window", "min_attempts", "cool_down"}
        breaker = _subtable(table, "circuit_breaker", keys, where)
        if "failure_rate" not in breaker:
            raise ConfigError(f"{where}.circuit_breaker.failure_rate: is required")
        values["circuit_breaker"] = CircuitBreaker(
            failure_rate=float(breaker["failure_rate"]),
            window_us=parse_duration_us(
                breaker.get("window", "60s"), f"{where}.circuit_breaker.window"
            ),
            min_attempts=int(breaker.get("min_attempts", 0))
            or DEFAULT_BREAKER_MIN_ATTEMPTS,
            cool_down_us=parse_duration_us(
                breaker.get("cool_down", "30s"), f"{where}.circuit_breaker.cool_down"
            ),
        )
    parent = table.get("parent")
    if parent is not None:
        if not isinstance(parent, str):
            raise ConfigError(f"{where}.parent: must be a pool name string")
        values["parent"] = parent or None
    return values


def _subtable(
    table: dict[str, Any], key: str, known: set[str], where: str
) -> dict[str, Any]:
    value = table[key]
    if not isinstance(value, dict):
        raise ConfigError(f"{where}.{key}: must be a table, such as {{ ... }}")
    unknown = set(value) - known
    if unknown:
        raise ConfigError(f"{where}.{key}: unknown keys {sorted(unknown)}")
    return value


def load_config(
    config_file: str | None,
    flags: dict[str, Any],
    environ: dict[str, str] | None = None,
) -> ServerConfig:
    """Merge the sources, lowest precedence first, and validate once."""
    environ = dict(os.environ) if environ is None else environ
    config = ServerConfig()

    config_file = config_file or environ.get(ENV_PREFIX + "CONFIG")
    if config_file:
        path = Path(config_file)
        try:
            document = tomllib.loads(path.read_text())
        except OSError as error:
            raise ConfigError(f"config: cannot read {path}: {error.strerror}") from None
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"config: invalid TOML in {path}: {error}") from None
        pool_tables = document.pop("pools", [])
        token_tables = document.pop("tokens", [])
        config = _apply(config, document, lambda name: f"{path}: {name}")
        declared = [
            _pool_from_table(table, index) for index, table in enumerate(pool_tables)
        ]
        # Parents are created before the pools that borrow from them.
        declared.sort(key=lambda pool: pool.parent is not None)
        config = replace(
            config,
            pools=tuple(declared),
            tokens=tuple(
                _token_from_table(table, index)
                for index, table in enumerate(token_tables)
            ),
        )

    from_env = {
        name: environ[ENV_PREFIX + name.upper()]
        for name in SETTING_NAMES
        if ENV_PREFIX + name.upper() in environ
    }
    config = _apply(config, from_env, lambda name: ENV_PREFIX + name.upper())
    config = _apply(config, flags, lambda name: "--" + name.replace("_", "-"))
    return config.validate()


__all__ = ["ConfigError", "ServerConfig", "load_config"]
