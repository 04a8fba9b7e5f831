"""Server and worker processes of the benchmark, and waiting for them."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import workpool
from demo.services import LOOPBACK, free_port, workpool_command

WORKER_SCRIPT = Path(__file__).with_name("worker.py")

_WORKER_STOP_TIMEOUT_SECONDS = 10.0

# The server's own shutdown grace is 10 s, so a stop that takes longer than
# this has hung and is killed.
_SERVER_STOP_TIMEOUT_SECONDS = 15.0


class WorkerProcesses:
    """``bench/worker.py`` processes serving the same pools, one per target."""

    def __init__(self, targets: list[str], pools: list[str], capacity: int):
        self._commands = []
        for target in targets:
            command = [sys.executable, str(WORKER_SCRIPT), "--target", target]
            for pool in pools:
                command += ["--pool", pool]
            command += ["--capacity", str(capacity)]
            self._commands.append(command)
        self.count = len(targets)
        self._processes: list[subprocess.Popen[bytes]] = []

    @property
    def pids(self) -> list[int]:
        return [process.pid for process in self._processes]

    def start(self, metrics_urls: list[str], timeout: float = 30.0) -> None:
        """Start the processes and wait until the servers count their streams.

        ``metrics_urls`` lists every server the workers may connect to, since
        each server's gauge counts only its own streams.
        """
        connected_before = _connected_to_all(metrics_urls)
        for command in self._commands:
            self._processes.append(subprocess.Popen(command, start_new_session=True))

        deadline = time.monotonic() + timeout
        while _connected_to_all(metrics_urls) < connected_before + self.count:
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


def _connected_to_all(metrics_urls: list[str]) -> int:
    return sum(connected_workers(url) for url in metrics_urls)


class ServerProcess:
    """A ``workpool serve`` subprocess on 127.0.0.1 with a given database URL.

    The SQLite scenarios use ``demo.services.WorkpoolProcess``, which always
    opens a SQLite file. This class runs the PostgreSQL replicas.
    """

    def __init__(self, database_url: str, log_path: Path) -> None:
        self.port = free_port()
        self.http_port = free_port()
        self.database_url = database_url
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def target(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    @property
    def metrics_url(self) -> str:
        return f"http://{LOOPBACK}:{self.http_port}/metrics"

    @property
    def pid(self) -> int:
        if self._process is None:
            raise RuntimeError("the server is not started")
        return self._process.pid

    def start(self, ready_timeout: float = 30.0) -> None:
        """Start the server and wait until a ListPools call succeeds."""
        command = [
            str(workpool_command()), "serve",
            "--database-url", self.database_url,
            "--listen", self.target,
            "--http-listen", f"{LOOPBACK}:{self.http_port}",
            "--log-level", "WARNING",
        ]  # fmt: skip
        with self.log_path.open("wb") as log_file:
            self._process = subprocess.Popen(
                command,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._wait_ready(self._process, ready_timeout)

    def _wait_ready(self, process: subprocess.Popen[bytes], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with workpool.Client(self.target, timeout=1.0) as client:
            while True:
                if process.poll() is not None:
                    raise RuntimeError(
                        f"the Workpool server exited with status "
                        f"{process.returncode}; see {self.log_path}"
                    )
                try:
                    client.list_pools()
                    return
                except (workpool.UnavailableError, workpool.DeadlineExceededError):
                    if time.monotonic() > deadline:
                        raise TimeoutError(
                            f"the Workpool server did not respond on {self.target} "
                            f"within {timeout:.0f} s; see {self.log_path}"
                        ) from None
                    time.sleep(0.1)

    def stop(self) -> None:
        """Send SIGTERM, wait for a graceful stop, and kill the server if it hangs."""
        process = self._process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=_SERVER_STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
