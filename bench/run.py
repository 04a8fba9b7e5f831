"""Benchmark Workpool beside its floors and peer queues, on this machine.

Runs every scenario of docs/benchmarks.md on 127.0.0.1: the gRPC and SQLite
floors, the Workpool scenarios on SQLite and PostgreSQL, and the same
workload on Celery, BullMQ and Temporal when they are installed. Writes the
medians, minimums, maximums and ratios to bench/results/latest.json
(quick.json with --quick, soak.json with --soak) and regenerates the result
tables and plots of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

# `python bench/run.py` puts bench/ first on sys.path; the repository root
# makes the bench and demo packages importable as packages.
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import floors, peers, profiling, report, workpool_bench  # noqa: E402
from bench.results import Results  # noqa: E402
from bench.sizes import FULL, QUICK, Sizes  # noqa: E402

RESULTS_DIR = ROOT / "bench" / "results"
# The base of steady load when no drain was measured and no full run is on
# record.
DEFAULT_DRAIN_RATE = 2_000.0

WORKPOOL_SCENARIOS = (
    "floors",
    "enqueue",
    "drain",
    "start-latency",
    "steady",
    "fan-out",
    "parallelism-cap",
    "retry-storm",
    "backlog-depth",
    "postgres",
    "peers",
)


def load_average() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def machine() -> dict[str, object]:
    model = "unknown CPU"
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def recorded_drain_rate(workers: int) -> float:
    """Return the drain rate with ``workers`` workers of the last full run."""
    try:
        summary = json.loads((RESULTS_DIR / "latest.json").read_text())
        variant = workpool_bench.workers_variant(workers)
        return float(summary["scenarios"]["drain"]["variants"][variant]["median"])
    except (OSError, ValueError, KeyError, TypeError):
        return DEFAULT_DRAIN_RATE


def run_floors(folder: Path, sizes: Sizes, results: Results) -> None:
    print("Floors: bare grpc.aio echo server and raw sqlite3", flush=True)
    with floors.running_echo_server() as target:
        for _ in range(sizes.repetitions):
            results.add(
                "floor",
                "grpc unary",
                asyncio.run(floors.grpc_unary(target, sizes.grpc_unary_calls)),
                "calls/s",
            )
            for batch in (100, 1_000):
                results.add(
                    "floor",
                    f"grpc batch {batch}",
                    asyncio.run(
                        floors.grpc_batch(target, batch, sizes.grpc_batch_items)
                    ),
                    "items/s",
                )
            results.add(
                "floor",
                "grpc server streaming",
                asyncio.run(floors.grpc_stream(target, sizes.grpc_stream_messages)),
                "messages/s",
            )
    for repetition in range(sizes.repetitions):
        for batch, jobs in (
            (1, sizes.sqlite_unbatched_jobs),
            (100, sizes.sqlite_batched_jobs),
        ):
            path = folder / f"floor-{batch}-{repetition}.db"
            lifecycle, inserts = floors.sqlite_lifecycle(path, jobs, batch)
            label = "unbatched" if batch == 1 else "batch 100"
            results.add("floor", f"sqlite lifecycle {label}", lifecycle, "jobs/s")
            results.add("floor", f"sqlite insert {label}", inserts, "rows/s")


def run(
    options: argparse.Namespace, sizes: Sizes, folder: Path, results: Results
) -> None:
    chosen = set(options.only or WORKPOOL_SCENARIOS)
    started = time.monotonic()

    def step(name: str, function, *args) -> None:
        if name not in chosen:
            return
        step_started = time.monotonic()
        function(folder, sizes, results, *args)
        now = time.monotonic()
        print(
            f"[{name}: {now - step_started:.0f} s, {now - started:.0f} s so far]",
            flush=True,
        )

    step("floors", run_floors)
    step("enqueue", workpool_bench.bench_enqueue)
    if chosen & {"steady", "fan-out", "retry-storm"}:
        chosen.add("drain")
    # The caps run on the server and workers of the largest drain.
    run_cap = "parallelism-cap" in chosen and "drain" in chosen
    step("drain", workpool_bench.bench_drain, run_cap)
    # Steady, fan-out and retry-storm load is a share of this drain rate.
    steady_workers = workpool_bench.workers_variant(workpool_bench.STEADY_WORKERS)
    drain_rate = results.median("drain", steady_workers) or options.drain_rate
    step("start-latency", workpool_bench.bench_start_latency)
    step("steady", workpool_bench.bench_steady, drain_rate)
    step("fan-out", workpool_bench.bench_fan_out, drain_rate)
    if not run_cap:
        step("parallelism-cap", workpool_bench.bench_cap)
    step("retry-storm", workpool_bench.bench_retry_storm, drain_rate)
    step("backlog-depth", workpool_bench.bench_backlog)
    step("postgres", workpool_bench.bench_postgres)
    step("peers", peers.run_all)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="3 repetitions instead of 5, smaller counts and backlog depths of "
        "10,000 and 100,000; writes bench/results/quick.json",
    )
    parser.add_argument(
        "--soak",
        type=float,
        metavar="MINUTES",
        help="run only the soak scenario for MINUTES (30 in `make bench-soak`); "
        "writes bench/results/soak.json",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=WORKPOOL_SCENARIOS,
        help="run only this scenario (repeatable); the JSON goes to "
        "bench/results/partial.json and the docs are left alone",
    )
    parser.add_argument(
        "--profile",
        action="append",
        default=[],
        metavar="NAME",
        help="record the server with py-spy during the named measurement, such "
        "as drain-8 or steady; writes bench/results/profiles/NAME.txt",
    )
    parser.add_argument(
        "--drain-rate",
        type=float,
        help="items/s that the soak's load is a share of; by default the drain "
        "with as many workers in bench/results/latest.json, or 2,000 (steady, "
        "fan-out and retry-storm use the drain measured in the same run)",
    )
    parser.add_argument(
        "--steady-workers",
        type=int,
        default=workpool_bench.STEADY_WORKERS,
        metavar="N",
        help="worker processes of the steady, fan-out, retry-storm, backlog-depth "
        "and soak scenarios (8); their load is a share of the drain with as many "
        "workers when the run measures it",
    )
    options = parser.parse_args()
    sizes = QUICK if options.quick else FULL
    if options.steady_workers < 1:
        parser.error("--steady-workers must be 1 or more")
    workpool_bench.STEADY_WORKERS = options.steady_workers
    if options.drain_rate is None:
        options.drain_rate = recorded_drain_rate(options.steady_workers)
    profiling.selected.update(options.profile)

    if options.soak is not None:
        name = "soak"
    elif options.only:
        name = "partial"
    else:
        name = sizes.name if sizes is QUICK else "latest"
    output = RESULTS_DIR / f"{name}.json"

    results = Results()
    meta: dict[str, object] = {
        "mode": "soak" if options.soak is not None else sizes.name,
        "repetitions": sizes.repetitions,
        "machine": machine(),
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_average_before": load_average(),
    }
    print(f"Machine: {meta['machine']}; load average {meta['load_average_before']}")
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="workpool-bench-") as temp:
            folder = Path(temp)
            if options.soak is not None:
                workpool_bench.bench_soak(
                    folder, sizes, results, options.drain_rate, options.soak
                )
            else:
                run(options, sizes, folder, results)
    except KeyboardInterrupt:
        # The figures measured so far are still written, marked as partial.
        print("\nInterrupted; the benchmark stopped every process it started.")
        meta["interrupted"] = True

    meta["duration_seconds"] = round(time.monotonic() - started)
    meta["load_average_after"] = load_average()
    meta["peers"] = peers.versions()
    summary = report.summarize(results, meta, sizes)
    RESULTS_DIR.mkdir(exist_ok=True)
    output.write_text(json.dumps(summary, indent=2) + "\n")
    print(report.text_table(summary))
    if name in ("latest", "quick"):
        report.write_docs(summary, name)
    print(
        f"\nLoad average at end: {meta['load_average_after']}. Wrote "
        f"{output.relative_to(ROOT)} after {meta['duration_seconds']} s"
    )
    return 130 if meta.get("interrupted") else 0


if __name__ == "__main__":
    raise SystemExit(main())
