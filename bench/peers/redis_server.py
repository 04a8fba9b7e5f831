"""A throwaway redis-server on 127.0.0.1 for the Celery and BullMQ peers.

Persistence is off (no RDB snapshots, no append-only file), as for a cache,
so that no write waits for the disk. Workpool's SQLite store, by contrast,
syncs every commit (``synchronous = FULL``).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.measure import wait_for_port
from demo.services import LOOPBACK, free_port


def available() -> bool:
    return shutil.which("redis-server") is not None


def version() -> str:
    output = subprocess.run(
        ["redis-server", "--version"], capture_output=True, text=True, check=True
    ).stdout
    for part in output.split():
        if part.startswith("v="):
            return part[2:]
    return output.strip()


@contextmanager
def running_redis(folder: Path) -> Iterator[str]:
    """Run redis-server on a free loopback port; yield its redis:// URL."""
    port = free_port()
    data = folder / f"redis-{port}"
    data.mkdir()
    process = subprocess.Popen(
        [
            "redis-server",
            "--bind", LOOPBACK,
            "--port", str(port),
            "--save", "",
            "--appendonly", "no",
            "--dir", str(data),
            "--protected-mode", "yes",
            "--loglevel", "warning",
        ],
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    try:
        wait_for_port(port, process)
        yield f"redis://{LOOPBACK}:{port}/0"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
