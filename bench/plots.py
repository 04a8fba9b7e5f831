"""PNG plots of a run's summary, for docs/benchmarks.md."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib

# A file backend: the benchmark runs without a display.
matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

SYSTEMS = ("workpool", "celery", "bullmq", "temporal")


def _entry(summary: dict, scenario: str, variant: str, system: str) -> dict | None:
    stats = summary["scenarios"].get(scenario, {}).get("variants", {}).get(variant)
    if stats is None:
        return None
    return stats if system == "workpool" else stats["peers"].get(system)


def throughput(summary: dict, path: Path) -> None:
    """Bars of enqueue and drain throughput per system, min to max as error bars."""
    groups = [("enqueue-unary", "64 in flight")] + [
        ("drain", variant)
        for variant in summary["scenarios"].get("drain", {}).get("variants", {})
    ]
    figure, axes = plt.subplots(figsize=(9, 4.5))
    width = 0.8 / len(SYSTEMS)
    for index, system in enumerate(SYSTEMS):
        xs, heights, low, high = [], [], [], []
        for position, (scenario, variant) in enumerate(groups):
            entry = _entry(summary, scenario, variant, system)
            if entry is None:
                continue
            xs.append(position + (index - 1.5) * width)
            heights.append(entry["median"])
            low.append(entry["median"] - entry["min"])
            high.append(entry["max"] - entry["median"])
        if xs:
            axes.bar(xs, heights, width, yerr=[low, high], capsize=2, label=system)
    axes.set_xticks(range(len(groups)))
    axes.set_xticklabels([f"{scenario}\n{variant}" for scenario, variant in groups])
    axes.set_yscale("log")
    axes.set_ylabel("items/s (log scale)")
    axes.set_title("Enqueue and drain throughput, median with min and max")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def latency(summary: dict, path: Path) -> None:
    """Steady end-to-end latency by offered load, and fan-out lag by subscribers."""
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    steady = summary["scenarios"].get("steady", {}).get("variants", {})
    for quantile in ("p50", "p99"):
        points = [
            (int(variant.split()[0]), stats["median"])
            for variant, stats in steady.items()
            # "50 % p99" is a whole latency; "50 % to start p99" one stage.
            if re.fullmatch(rf"\d+ % {quantile}", variant)
        ]
        if points:
            left.plot(*zip(*points, strict=True), marker="o", label=quantile)
    left.axhline(20, color="grey", linestyle="--", label="p99 target at 50 %")
    left.set_yscale("log")
    left.set_xlabel("offered load, % of the drain rate with 8 workers")
    left.set_ylabel("enqueue accepted to completion received, ms (log)")
    left.set_title("Steady load")
    left.legend()

    fan_out = summary["scenarios"].get("fan-out", {}).get("variants", {})
    labels = [
        variant.removesuffix(" p99") for variant in fan_out if variant.endswith("p99")
    ]
    values = [fan_out[f"{label} p99"]["median"] for label in labels]
    right.bar(labels, values)
    right.axhline(50, color="grey", linestyle="--", label="target")
    right.set_ylabel("completion lag p99, ms")
    right.set_title("Completion fan-out at 50 % load")
    right.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def floors(summary: dict, path: Path) -> None:
    """Bars of Workpool's figures as a share of the floors measured in the run."""
    bars = []
    for scenario, entry in summary["scenarios"].items():
        if scenario not in ("enqueue-unary", "enqueue-batch", "drain"):
            continue
        for variant, stats in entry["variants"].items():
            for name, ratio in stats["ratios"].items():
                if name.endswith("floor"):
                    bars.append((f"{scenario} {variant}\n÷ {name}", ratio))
    figure, axes = plt.subplots(figsize=(9, 0.5 + 0.5 * max(1, len(bars))))
    axes.barh([label for label, _ in bars], [ratio for _, ratio in bars])
    axes.axvline(1, color="grey", linestyle="--")
    axes.set_xlabel("Workpool median ÷ floor median")
    axes.set_title("Workpool against its floors, same run")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def write(summary: dict, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    throughput(summary, folder / "throughput.png")
    latency(summary, folder / "latency.png")
    floors(summary, folder / "floors.png")
