"""Peer worker processes: start, wait for, and stop a group of them."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_STOP_TIMEOUT_SECONDS = 15.0


@contextmanager
def running_processes(
    commands: list[list[str]],
    env: Mapping[str, str],
    log_path: Path,
    cwd: Path = ROOT,
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Run each command in its own session; SIGTERM, then SIGKILL, on exit.

    Their output goes to ``log_path``.
    """
    processes: list[subprocess.Popen[bytes]] = []
    try:
        with log_path.open("ab") as log:
            for command in commands:
                processes.append(
                    subprocess.Popen(
                        command,
                        cwd=cwd,
                        env={**os.environ, **env},
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
        yield processes
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=_STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            # Prefork children may outlive their parent by a moment.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)


def check_running(processes: list[subprocess.Popen[bytes]], name: str) -> None:
    for process in processes:
        if process.poll() is not None:
            raise RuntimeError(
                f"a {name} worker exited with status {process.returncode}"
            )
