"""How much work each scenario does in a full and in a quick run."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sizes:
    """Counts, durations and repetitions of one run.

    Throughput scenarios that drain a backlog count each window of
    ``window_seconds`` as one repetition; the others repeat the whole
    measurement ``repetitions`` times.
    """

    name: str
    repetitions: int
    unary_calls: int
    batch_items: dict[int, int]
    drain_items: int
    drain_workers: tuple[int, ...]
    window_seconds: float
    steady_levels: tuple[float, ...]
    steady_seconds: float
    # Items accepted in this first part of each steady run are left out.
    steady_warmup_seconds: float
    latency_items: int
    fanout_subscribers: tuple[int, ...]
    caps: tuple[int, ...]
    cap_seconds: float
    backlog_depths: tuple[int, ...]
    finished_rows: int
    backlog_drain_items: int
    postgres_items: int
    postgres_replicas: tuple[int, ...]
    # Backlogs of the peers' drains: enough for every window at the rates
    # they reach here, so that a slow peer does not take the run's time.
    peer_drain_items: dict[str, int]
    peer_drain_workers: tuple[int, ...]
    grpc_unary_calls: int
    grpc_batch_items: int
    grpc_stream_messages: int
    sqlite_unbatched_jobs: int
    sqlite_batched_jobs: int


FULL = Sizes(
    name="full",
    repetitions=5,
    unary_calls=64 * 50,
    batch_items={100: 10_000, 1_000: 30_000},
    drain_items=200_000,
    drain_workers=(1, 8, 64),
    window_seconds=3.0,
    steady_levels=(0.25, 0.5, 0.75, 0.9),
    steady_seconds=3.0,
    steady_warmup_seconds=1.0,
    latency_items=300,
    fanout_subscribers=(1, 10, 100),
    caps=(1, 8, 64),
    cap_seconds=2.0,
    backlog_depths=(0, 100_000, 1_000_000),
    finished_rows=1_000_000,
    backlog_drain_items=50_000,
    postgres_items=20_000,
    postgres_replicas=(1, 2, 3),
    peer_drain_items={"celery": 20_000, "bullmq": 200_000, "temporal": 512},
    peer_drain_workers=(1, 8, 64),
    grpc_unary_calls=64 * 100,
    grpc_batch_items=50_000,
    grpc_stream_messages=20_000,
    sqlite_unbatched_jobs=300,
    sqlite_batched_jobs=20_000,
)

QUICK = Sizes(
    name="quick",
    repetitions=3,
    unary_calls=64 * 20,
    batch_items={100: 3_000, 1_000: 10_000},
    drain_items=20_000,
    drain_workers=(1, 8, 64),
    window_seconds=2.0,
    steady_levels=(0.25, 0.5, 0.75, 0.9),
    steady_seconds=2.0,
    steady_warmup_seconds=0.5,
    latency_items=100,
    fanout_subscribers=(1, 10, 100),
    caps=(1, 8, 64),
    cap_seconds=1.0,
    backlog_depths=(0, 10_000, 100_000),
    finished_rows=100_000,
    backlog_drain_items=10_000,
    postgres_items=4_000,
    postgres_replicas=(1, 2, 3),
    peer_drain_items={"celery": 5_000, "bullmq": 40_000, "temporal": 256},
    # Starting 64 peer worker processes takes about a minute of a quick run.
    peer_drain_workers=(1, 8),
    grpc_unary_calls=64 * 30,
    grpc_batch_items=20_000,
    grpc_stream_messages=5_000,
    sqlite_unbatched_jobs=100,
    sqlite_batched_jobs=5_000,
)
