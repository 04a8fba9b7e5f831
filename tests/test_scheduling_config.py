"""Scheduling settings of [[pools]] tables in the TOML config file."""

from __future__ import annotations

from datetime import timedelta

import pytest

import workpool
from workpool_server.config import ConfigError, load_config
from workpool_server.engine.model import CircuitBreaker, RateLimit

POOLS = """
[[pools]]
name = "tenant"
max_parallelism = 2
parent = "shared"
max_per_key = 1
priority_aging = "500ms"
default_attempt_timeout = "5m"
rate_limit = { per_second = 2.5, burst = 5 }
[pools.circuit_breaker]
failure_rate = 0.5
window = "2m"
min_attempts = 20
cool_down = "10s"

[[pools]]
name = "shared"
max_parallelism = 8
circuit_breaker = { failure_rate = 1 }
"""


def _load(tmp_path, text: str):
    path = tmp_path / "workpool.toml"
    path.write_text(text)
    return load_config(str(path), {}, environ={})


def test_pool_tables_read_scheduling(tmp_path):
    config = _load(tmp_path, POOLS)
    # The parent comes first, so that it exists when the child is created.
    assert [pool.name for pool in config.pools] == ["shared", "tenant"]
    shared, tenant = config.pools
    assert tenant.parent == "shared"
    assert tenant.max_per_key == 1
    assert tenant.priority_aging_us == 500_000
    assert tenant.default_attempt_timeout_us == 300_000_000
    assert tenant.rate_limit == RateLimit(per_second=2.5, burst=5)
    assert tenant.circuit_breaker == CircuitBreaker(
        failure_rate=0.5,
        window_us=120_000_000,
        min_attempts=20,
        cool_down_us=10_000_000,
    )
    assert shared.circuit_breaker == CircuitBreaker(failure_rate=1.0)
    assert shared.parent is None
    assert shared.rate_limit is None


@pytest.mark.parametrize(
    "table, setting",
    [
        ("max_per_key = -1", "pools[0].max_per_key"),
        ('priority_aging = "0s"', "pools[0].priority_aging"),
        ('default_attempt_timeout = "8d"', "pools[0].default_attempt_timeout"),
        ("rate_limit = { per_second = 0 }", "pools[0].rate_limit.per_second"),
        ("rate_limit = { burst = 3 }", "pools[0].rate_limit.per_second"),
        ("rate_limit = { per_second = 1, every = 2 }", "pools[0].rate_limit"),
        ("circuit_breaker = { failure_rate = 2 }", "circuit_breaker.failure_rate"),
        ('circuit_breaker = { window = "1m" }', "circuit_breaker.failure_rate"),
        ('parent = "p"', "pools[0].parent"),
    ],
)
def test_invalid_scheduling_setting(tmp_path, table, setting):
    with pytest.raises(ConfigError) as raised:
        _load(tmp_path, f'[[pools]]\nname = "p"\n{table}\n')
    assert setting in str(raised.value)


async def test_config_pools_start_with_parent(spawn_server, tmp_path):
    config = tmp_path / "pools.toml"
    config.write_text(POOLS)
    server = await spawn_server("--config", str(config)).wait_ready()
    async with workpool.AsyncClient(server.target) as client:
        tenant = await client.get_pool("tenant")
    assert tenant.parent == "shared"
    assert tenant.rate_limit == workpool.RateLimit(per_second=2.5, burst=5)
    assert tenant.default_attempt_timeout == timedelta(minutes=5)
    assert tenant.stats.circuit_state is workpool.CircuitState.CLOSED
