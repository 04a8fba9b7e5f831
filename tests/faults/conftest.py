"""Fixtures of the fault suite: a record of the figures each test measured."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPOSITORY = Path(__file__).resolve().parents[2]
FIGURES_PATH = REPOSITORY / "build" / "fault-figures.json"


def record_figures(name: str, values: dict[str, Any]) -> None:
    """Store `values` under `name` in build/fault-figures.json.

    The file keeps the entries of other tests, so a run of one test updates
    its own figures only.
    """
    FIGURES_PATH.parent.mkdir(parents=True, exist_ok=True)
    figures: dict[str, Any] = {}
    if FIGURES_PATH.exists():
        try:
            figures = json.loads(FIGURES_PATH.read_text())
        except json.JSONDecodeError:
            figures = {}
    figures[name] = values
    temporary = FIGURES_PATH.with_suffix(f".{os.getpid()}.tmp")
    temporary.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
    temporary.replace(FIGURES_PATH)


@pytest.fixture
def figures(request) -> Any:
    """Return a function that records this test's figures under its node id."""

    def record(values: dict[str, Any], name: str | None = None) -> None:
        record_figures(name or request.node.name, values)

    return record


def spawn_actor(folder: Path, name: str, *arguments: str) -> subprocess.Popen:
    """Start `python -m tests.faults.actors ARGUMENTS`, logging to folder/name.log."""
    with (folder / f"{name}.log").open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.faults.actors", *arguments],
            cwd=REPOSITORY,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
