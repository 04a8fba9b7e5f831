"""Worker processes of the benchmark, and waiting for them to connect."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

WORKER_SCRIPT = Path(__file__).with_name("worker.py")

_WORKER_STOP_TIMEOUT_SECONDS = 10.0


class WorkerProcesses:
    """Several ``bench/worker.py`` processes serving the same pools."""

    def __init__(self, target: str, pools: list[str], count: int, capacity: int):
        self._command = [sys.executable, str(WORKER_SCRIPT), "--target", target]
        for pool in pools:
            self._command += ["--pool", pool]
        self._command += ["--capacity", str(capacity)]
        self.count = count
        self._processes: list[subprocess.Popen[bytes]] = []

    def start(self, metrics_url: str, timeout: float = 30.0) -> None:
        """Start the processes and wait until the server counts their streams."""
        connected_before = connected_workers(metrics_url)
        for _ in range(self.count):
            self._processes.append(
                subprocess.Popen(self._command, start_new_session=True)
            )

        deadline = time.monotonic() + timeout
        while connected_workers(metrics_url) < connected_before + self.count:
            for process in self._processes:
                if process.poll() is not None:
                    raise RuntimeError(
                        f"a benchmark worker exited with status {process.returncode}"
                    )
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{self.count} benchmark workers did not connect within "
                    f"{timeout:.0f} s"
                )
            time.sleep(0.1)

    def stop(self) -> None:
        for process in self._processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self._processes:
            try:
                process.wait(timeout=_WORKER_STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._processes.clear()


def connected_workers(metrics_url: str) -> int:
    """Return the server's ``workpool_workers`` gauge: open worker streams."""
    with urllib.request.urlopen(metrics_url, timeout=5) as response:
        text = response.read().decode()
    for line in text.splitlines():
        if line.startswith("workpool_workers "):
            return int(float(line.split()[1]))
    raise RuntimeError(f"no workpool_workers sample at {metrics_url}")
