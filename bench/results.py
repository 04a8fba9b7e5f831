"""Measured values of one benchmark run, and their summary for the JSON file."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

WORKPOOL = "workpool"


@dataclass
class Results:
    """Every value measured, keyed by scenario, variant and system.

    The system is ``workpool``, a peer (``celery``, ``bullmq``,
    ``temporal``) or a floor (such as ``grpc_unary_floor``).
    """

    values: dict[tuple[str, str, str], list[float]] = field(default_factory=dict)
    units: dict[tuple[str, str, str], str] = field(default_factory=dict)
    notes: dict[str, list[str]] = field(default_factory=dict)

    def add(
        self,
        scenario: str,
        variant: str,
        value: float,
        unit: str,
        system: str = WORKPOOL,
    ) -> None:
        key = (scenario, variant, system)
        self.values.setdefault(key, []).append(value)
        self.units[key] = unit
        print(f"  {system} {scenario} {variant}: {value:,.2f} {unit}", flush=True)

    def note(self, scenario: str, text: str) -> None:
        """Record a remark on a scenario, such as a peer that was skipped."""
        self.notes.setdefault(scenario, []).append(text)
        print(f"  note on {scenario}: {text}", flush=True)

    def stats(self, scenario: str, variant: str, system: str = WORKPOOL) -> dict | None:
        key = (scenario, variant, system)
        values = self.values.get(key)
        if not values:
            return None
        return {
            "median": statistics.median(values),
            "min": min(values),
            "max": max(values),
            "unit": self.units[key],
            "runs": len(values),
            "values": values,
        }

    def median(
        self, scenario: str, variant: str, system: str = WORKPOOL
    ) -> float | None:
        values = self.values.get((scenario, variant, system))
        return statistics.median(values) if values else None

    def variants(self, scenario: str) -> list[str]:
        seen: list[str] = []
        for name, variant, system in self.values:
            if name == scenario and system == WORKPOOL and variant not in seen:
                seen.append(variant)
        return seen

    def systems(self, scenario: str, variant: str) -> list[str]:
        return [
            system
            for name, each, system in self.values
            if name == scenario and each == variant and system != WORKPOOL
        ]
