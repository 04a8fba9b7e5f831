"""Worker gauges and the desired-worker estimate that autoscalers can follow.

Everything here works on pool and function label values, so pools beyond
`max_pool_labels` are summed into "_other" like in every other metric.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from workpool_server.engine.sessions import WorkerSession
from workpool_server.metrics import Metrics

# The backlog that is ready now should be gone within this time.
DRAIN_TARGET_SECONDS = 60.0
# Assumed run duration of a pool that has not recorded a result yet.
DEFAULT_RUN_SECONDS = 1.0


def desired_workers(
    ready: int,
    start_rate: float,
    mean_run_seconds: float,
    mean_capacity: float,
    drain_seconds: float = DRAIN_TARGET_SECONDS,
) -> int:
    """Estimate the workers that drain `ready` items within `drain_seconds`
    while also keeping up with `start_rate` starts per second.

    By Little's law, starts per second times the mean run duration is the
    number of slots busy at once. Dividing that by the mean capacity of a
    worker turns slots into workers.
    """
    starts_per_second = ready / drain_seconds + start_rate
    busy_slots = starts_per_second * mean_run_seconds
    # Rounding first keeps float noise such as 2.0000000001 from adding one.
    return math.ceil(round(busy_slots / max(mean_capacity, 1.0), 6))


@dataclass
class WorkerCounts:
    """Counts and slots of the connected worker streams, by label value."""

    connected: dict[tuple[str, str], int] = field(default_factory=dict)
    slots_free: dict[str, int] = field(default_factory=dict)
    capacity_sum: dict[str, int] = field(default_factory=dict)
    workers: dict[str, int] = field(default_factory=dict)

    def mean_capacity(self, pool: str) -> float:
        count = self.workers.get(pool, 0)
        return self.capacity_sum[pool] / count if count else 1.0


def count_workers(sessions: Iterable[WorkerSession], metrics: Metrics) -> WorkerCounts:
    counts = WorkerCounts()
    for session in sessions:
        if session.closed:
            continue
        pools = {metrics.pool(name) for name in session.pools}
        functions = {metrics.function(name) for name in session.functions}
        for pool in pools:
            counts.slots_free[pool] = counts.slots_free.get(pool, 0) + session.credits
            counts.capacity_sum[pool] = (
                counts.capacity_sum.get(pool, 0) + session.capacity
            )
            counts.workers[pool] = counts.workers.get(pool, 0) + 1
            for function in functions:
                key = (pool, function)
                counts.connected[key] = counts.connected.get(key, 0) + 1
    return counts


class ActivityTally:
    """Starts and run durations per pool label since the last `take`.

    The gauge loop turns them into a start rate and a mean run duration over
    its refresh interval. A pool with no result in an interval keeps the
    mean of the last interval that had one.
    """

    def __init__(self) -> None:
        self._starts: dict[str, int] = {}
        self._run_seconds: dict[str, float] = {}
        self._runs: dict[str, int] = {}
        self._last_mean_run: dict[str, float] = {}

    def record_start(self, pool: str) -> None:
        self._starts[pool] = self._starts.get(pool, 0) + 1

    def record_run(self, pool: str, seconds: float) -> None:
        self._run_seconds[pool] = self._run_seconds.get(pool, 0.0) + seconds
        self._runs[pool] = self._runs.get(pool, 0) + 1

    def take(self, elapsed_seconds: float) -> dict[str, tuple[float, float]]:
        """Return (start rate per second, mean run seconds) per pool label
        seen so far, and start a new interval."""
        for pool, runs in self._runs.items():
            self._last_mean_run[pool] = self._run_seconds[pool] / runs
        pools = set(self._starts) | set(self._last_mean_run)
        elapsed = max(elapsed_seconds, 1e-3)
        rates = {
            pool: (
                self._starts.get(pool, 0) / elapsed,
                self._last_mean_run.get(pool, DEFAULT_RUN_SECONDS),
            )
            for pool in pools
        }
        self._starts.clear()
        self._run_seconds.clear()
        self._runs.clear()
        return rates
