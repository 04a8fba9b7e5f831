"""Summaries of a run: the JSON document, target checks, tables and plots."""

from __future__ import annotations

import re
from pathlib import Path

from bench.results import WORKPOOL, Results
from bench.sizes import Sizes

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"
PLOT_DIR = ROOT / "docs" / "bench"
PEERS = ("celery", "bullmq", "temporal")

# The variant whose figures stand for a scenario at its top level; drain
# uses its best worker count instead.
HEADLINES = {
    "enqueue-unary": "64 in flight",
    "enqueue-batch": "batch 1000",
    "steady": "50 % p99",
    "start-latency": "p50",
    "fan-out": "100 subscribers p99",
    "parallelism-cap": "cap 64 throughput / ideal",
    "retry-storm": "retry lateness p99",
    "postgres": "drain 1 replica",
    "soak": "p99 by step",
}


def _floor(results: Results, variant: str) -> float | None:
    return results.median("floor", variant, WORKPOOL)


def _combined(*rates: float | None) -> float | None:
    """Return the rate of doing each step once per item, one after another."""
    if any(rate is None or rate <= 0 for rate in rates):
        return None
    return 1 / sum(1 / rate for rate in rates)  # type: ignore[operator]


def _ratio_bases(
    results: Results, scenario: str, variant: str
) -> dict[str, float | None]:
    """Return the figures that ``scenario`` ``variant`` is divided by, by name."""
    bases: dict[str, float | None] = {}
    for system in results.systems(scenario, variant):
        bases[system] = results.median(scenario, variant, system)
    if scenario == "enqueue-unary":
        bases["grpc_unary_floor"] = _floor(results, "grpc unary")
    elif scenario == "enqueue-batch":
        size = variant.split()[-1]
        bases[f"grpc_batch_{size}_floor"] = _floor(results, f"grpc batch {size}")
        bases["grpc_batch_sqlite_insert_floor"] = _combined(
            _floor(results, f"grpc batch {size}"),
            _floor(results, "sqlite insert batch 100"),
        )
    elif scenario == "drain":
        bases["sqlite_lifecycle_batch_100_floor"] = _floor(
            results, "sqlite lifecycle batch 100"
        )
    elif scenario == "backlog-depth":
        bases["depth_0"] = results.median("backlog-depth", "depth 0")
    elif scenario == "retry-storm" and variant == "first-attempt throughput":
        bases["steady"] = results.median("retry-storm", "offered load")
    elif scenario == "postgres" and variant.startswith("drain"):
        bases["sqlite_drain_8_workers"] = results.median("drain", "8 workers")
    return bases


def _variant_summary(results: Results, scenario: str, variant: str) -> dict:
    stats = results.stats(scenario, variant)
    assert stats is not None
    ratios = {
        name: round(stats["median"] / base, 3)
        for name, base in _ratio_bases(results, scenario, variant).items()
        if base
    }
    stats["ratios"] = ratios
    stats["peers"] = {
        system: results.stats(scenario, variant, system)
        for system in results.systems(scenario, variant)
    }
    return stats


def _headline(scenario: str, variants: dict[str, dict]) -> str:
    if scenario == "drain":
        return max(variants, key=lambda name: variants[name]["median"])
    if scenario == "backlog-depth":
        return list(variants)[-1]
    wanted = HEADLINES.get(scenario)
    return wanted if wanted in variants else list(variants)[0]


def _target(
    scenario: str, text: str, value: float | None, threshold: float, higher: bool
) -> dict:
    met = (
        None
        if value is None
        else (value >= threshold if higher else value <= threshold)
    )
    return {
        "scenario": scenario,
        "target": text,
        "value": None if value is None else round(value, 3),
        "threshold": threshold,
        "met": met,
    }


def _ratio(scenarios: dict, scenario: str, variant: str, name: str) -> float | None:
    entry = scenarios.get(scenario, {}).get("variants", {}).get(variant)
    return None if entry is None else entry["ratios"].get(name)


def _median(scenarios: dict, scenario: str, variant: str) -> float | None:
    entry = scenarios.get(scenario, {}).get("variants", {}).get(variant)
    return None if entry is None else entry["median"]


def _enqueue_targets(scenarios: dict) -> list[dict]:
    checks = [
        _target(
            "enqueue-unary",
            "≥ 0.8 × gRPC unary floor",
            _ratio(scenarios, "enqueue-unary", "64 in flight", "grpc_unary_floor"),
            0.8,
            True,
        ),
        _target(
            "enqueue-unary",
            "≥ 1.5 × Celery apply_async",
            _ratio(scenarios, "enqueue-unary", "64 in flight", "celery"),
            1.5,
            True,
        ),
        _target(
            "enqueue-batch",
            "batch 1000 ≥ 100,000 items/s",
            _median(scenarios, "enqueue-batch", "batch 1000"),
            100_000,
            True,
        ),
    ]
    for size in (100, 1000):
        checks.append(
            _target(
                "enqueue-batch",
                f"batch {size} ≥ 0.7 × gRPC batch floor combined with "
                "SQLite insert floor",
                _ratio(
                    scenarios,
                    "enqueue-batch",
                    f"batch {size}",
                    "grpc_batch_sqlite_insert_floor",
                ),
                0.7,
                True,
            )
        )
    return checks


def _drain_targets(scenarios: dict) -> list[dict]:
    checks: list[dict] = []
    drain = scenarios.get("drain")
    if drain:
        checks.append(
            _target(
                "drain",
                f"≥ 20,000 items/s on SQLite (best: {drain['variant']})",
                drain["median"],
                20_000,
                True,
            )
        )
        for variant in drain["variants"]:
            checks.append(
                _target(
                    "drain",
                    f"{variant}: ≥ 10 × Celery",
                    _ratio(scenarios, "drain", variant, "celery"),
                    10,
                    True,
                )
            )
            checks.append(
                _target(
                    "drain",
                    f"{variant}: ≥ 5 × BullMQ",
                    _ratio(scenarios, "drain", variant, "bullmq"),
                    5,
                    True,
                )
            )
    return checks


def _latency_targets(scenarios: dict) -> list[dict]:
    checks = [
        _target(
            "steady",
            "p99 ≤ 20 ms at 50 % of drain",
            _median(scenarios, "steady", "50 % p99"),
            20,
            False,
        ),
        _target(
            "start-latency",
            "p50 ≤ 1 ms",
            _median(scenarios, "start-latency", "p50"),
            1,
            False,
        ),
        _target(
            "start-latency",
            "p99 ≤ 5 ms",
            _median(scenarios, "start-latency", "p99"),
            5,
            False,
        ),
    ]
    for variant in scenarios.get("fan-out", {}).get("variants", {}):
        if variant.endswith("p99"):
            checks.append(
                _target(
                    "fan-out",
                    f"{variant.removesuffix(' p99')}: lag p99 ≤ 50 ms",
                    _median(scenarios, "fan-out", variant),
                    50,
                    False,
                )
            )
    return checks


def _cap_and_retry_targets(scenarios: dict) -> list[dict]:
    checks: list[dict] = []
    for variant, entry in (
        scenarios.get("parallelism-cap", {}).get("variants", {}).items()
    ):
        cap = variant.split()[1]
        if variant.endswith("violations"):
            checks.append(
                _target(
                    "parallelism-cap",
                    f"cap {cap}: zero violations",
                    entry["max"],
                    0,
                    False,
                )
            )
        elif variant.endswith("ideal"):
            checks.append(
                _target(
                    "parallelism-cap",
                    f"cap {cap}: throughput ≥ 0.9 × ideal",
                    entry["median"],
                    0.9,
                    True,
                )
            )
    checks += [
        _target(
            "retry-storm",
            "retry lateness p99 ≤ 50 ms",
            _median(scenarios, "retry-storm", "retry lateness p99"),
            50,
            False,
        ),
        _target(
            "retry-storm",
            "first-attempt throughput ≥ 0.8 × the offered steady load",
            _ratio(scenarios, "retry-storm", "first-attempt throughput", "steady"),
            0.8,
            True,
        ),
    ]
    return checks


def _depth_and_soak_targets(scenarios: dict, results: Results) -> list[dict]:
    checks: list[dict] = []
    backlog = scenarios.get("backlog-depth")
    if backlog:
        checks.append(
            _target(
                "backlog-depth",
                f"{backlog['variant']} ≥ 0.8 × depth 0",
                backlog["ratios"].get("depth_0"),
                0.8,
                True,
            )
        )
    checks.append(
        _target(
            "postgres",
            "drain with 1 replica ≥ 10,000 items/s",
            _median(scenarios, "postgres", "drain 1 replica"),
            10_000,
            True,
        )
    )
    # The soak's steps last 30 s, so ten steps are five minutes, and the
    # p99 of five minutes is taken as the highest p99 of its ten steps.
    soak = results.values.get(("soak", "rss by step", WORKPOOL))
    latencies = results.values.get(("soak", "p99 by step", WORKPOOL))
    if soak and latencies:
        first, last = latencies[:10], latencies[-10:]
        checks.append(
            _target("soak", "RSS growth ≤ 50 MB", soak[-1] - soak[0], 50, False)
        )
        checks.append(
            _target(
                "soak",
                "last 5 minutes' p99 ≤ 1.2 × the first 5 minutes'",
                max(last) / max(first),
                1.2,
                False,
            )
        )
    return checks


def targets(scenarios: dict, results: Results) -> list[dict]:
    """Check each target of docs/benchmarks.md against the medians of the run."""
    return [
        *_enqueue_targets(scenarios),
        *_drain_targets(scenarios),
        *_latency_targets(scenarios),
        *_cap_and_retry_targets(scenarios),
        *_depth_and_soak_targets(scenarios, results),
    ]


def summarize(results: Results, meta: dict, sizes: Sizes) -> dict:
    """Return the JSON document of a run."""
    scenarios: dict[str, dict] = {}
    names = []
    for scenario, _, system in results.values:
        if system == WORKPOOL and scenario != "floor" and scenario not in names:
            names.append(scenario)
    for scenario in names:
        variants = {
            variant: _variant_summary(results, scenario, variant)
            for variant in results.variants(scenario)
        }
        headline = _headline(scenario, variants)
        top = variants[headline]
        scenarios[scenario] = {
            "variant": headline,
            "median": top["median"],
            "min": top["min"],
            "max": top["max"],
            "unit": top["unit"],
            "ratios": top["ratios"],
            "variants": variants,
            "notes": results.notes.get(scenario, []),
        }
    floors = {
        variant: results.stats("floor", variant)
        for variant in results.variants("floor")
    }
    meta = {**meta, "notes": results.notes.get("peers", [])}
    return {
        "meta": meta,
        "floors": floors,
        "scenarios": scenarios,
        "targets": targets(scenarios, results),
    }


def _number(value: float) -> str:
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:,.1f}"
    return f"{value:,.2f}"


def text_table(summary: dict) -> str:
    lines = [""]
    for name, scenario in summary["scenarios"].items():
        for variant, entry in scenario["variants"].items():
            ratios = ", ".join(
                f"{key} {value:g}" for key, value in entry["ratios"].items()
            )
            lines.append(
                f"{name:16} {variant:34} {_number(entry['median']):>10} "
                f"{entry['unit']:9} {ratios}"
            )
    lines.append("")
    for check in summary["targets"]:
        state = {True: "met", False: "MISSED", None: "not measured"}[check["met"]]
        lines.append(
            f"{state:12} {check['scenario']}: {check['target']} ({check['value']})"
        )
    return "\n".join(lines)


def markdown(summary: dict, name: str) -> str:
    """Return the generated part of docs/benchmarks.md for one run."""
    meta = summary["meta"]
    machine = meta["machine"]
    out = [
        f"Run `{name}` ({meta['mode']}, {meta['repetitions']} repetitions), started "
        f"{meta['started_at']}, {meta['duration_seconds']} s, on "
        f"{machine['cpus']} CPUs "
        f"({machine['cpu_model']}), Python {machine['python']}. Load average (1, 5, 15 "
        f"min) before: {', '.join(map(str, meta['load_average_before']))}; after: "
        f"{', '.join(map(str, meta['load_average_after']))}.",
        "",
    ]
    if meta.get("interrupted"):
        out += ["The run was interrupted: scenarios missing below were not run.", ""]
    versions = "; ".join(
        f"{peer}: "
        + ", ".join(f"{package} {version}" for package, version in found.items())
        for peer, found in meta["peers"].items()
    )
    out += [f"Peer versions: {versions}.", ""]
    for note in meta.get("notes", []):
        out.append(f"- {note}")
    if meta.get("notes"):
        out.append("")

    out += [
        "### Targets",
        "",
        "| Scenario | Target | Value | Met |",
        "| --- | --- | ---: | --- |",
    ]
    for check in summary["targets"]:
        value = "n/a" if check["value"] is None else _number(check["value"])
        state = {True: "yes", False: "**no**", None: "not measured"}[check["met"]]
        out.append(f"| {check['scenario']} | {check['target']} | {value} | {state} |")

    out += [
        "",
        "### Floors",
        "",
        "| Floor | Median | Min | Max | Unit |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for variant, entry in summary["floors"].items():
        out.append(
            f"| {variant} | {_number(entry['median'])} | {_number(entry['min'])} | "
            f"{_number(entry['max'])} | {entry['unit']} |"
        )

    out += [
        "",
        "### Scenarios",
        "",
        "| Scenario | Variant | Median | Min | Max | Unit | Runs "
        "| Ratios (Workpool ÷ other) |",
        "| --- | --- | ---: | ---: | ---: | --- | ---: | --- |",
    ]
    for scenario, entry in summary["scenarios"].items():
        for variant, stats in entry["variants"].items():
            ratios = ", ".join(
                f"{key} {value:g}" for key, value in stats["ratios"].items()
            )
            out.append(
                f"| {scenario} | {variant} | {_number(stats['median'])} | "
                f"{_number(stats['min'])} | {_number(stats['max'])} | "
                f"{stats['unit']} | "
                f"{stats['runs']} | {ratios} |"
            )

    out += [
        "",
        "### Peers",
        "",
        "| Scenario | Variant | Peer | Median | Min | Max | Unit | Runs |",
        "| --- | --- | --- | ---: | ---: | ---: | --- | ---: |",
    ]
    for scenario, entry in summary["scenarios"].items():
        for variant, stats in entry["variants"].items():
            for peer, peer_stats in stats["peers"].items():
                out.append(
                    f"| {scenario} | {variant} | {peer} | "
                    f"{_number(peer_stats['median'])} | "
                    f"{_number(peer_stats['min'])} | {_number(peer_stats['max'])} | "
                    f"{peer_stats['unit']} | {peer_stats['runs']} |"
                )
    notes = [
        f"- {scenario}: {note}"
        for scenario, entry in summary["scenarios"].items()
        for note in entry["notes"]
    ]
    if notes:
        out += ["", "Notes of the run:", "", *notes]
    return "\n".join(out) + "\n"


def write_docs(summary: dict, name: str) -> None:
    """Replace the generated block of ``name`` in docs/benchmarks.md; plot it."""
    start = f"<!-- generated by bench/report.py: {name} -->"
    end = f"<!-- end of {name} -->"
    block = f"{start}\n{markdown(summary, name)}{end}"
    text = DOC.read_text()
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.DOTALL)
    if not pattern.search(text):
        raise RuntimeError(
            f"{DOC} has no block for run {name!r}; add the lines {start!r} and {end!r}"
        )
    DOC.write_text(pattern.sub(lambda _: block, text))
    if name == "latest":
        from bench import plots

        plots.write(summary, PLOT_DIR)
