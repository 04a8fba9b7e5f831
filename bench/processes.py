"""Server and worker processes of the benchmark, and waiting for them."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from demo.services import WorkpoolProcess

WORKER_SCRIPT = Path(__file__).with_name("worker.py")

_WORKER_STOP_TIMEOUT_SECONDS = 10.0

# Upper bound of worker processes starting at once: 64 Python processes that
# import grpc at the same moment take tens of seconds on 2 cores.
_WORKER_CONNECT_TIMEOUT_SECONDS = 180.0


@contextmanager
def running_server(
    folder: Path, name: str, *, database_url: str | None = None
) -> Iterator[WorkpoolProcess]:
    """Run a server on a new SQLite file, or on ``database_url``, and stop it."""
    server = WorkpoolProcess(
        folder,
        database_name=f"{name}.db",
        log_level="WARNING",
        database_url=database_url,
        log_name=f"{name}.log",
    )
    try:
        server.start(ready_timeout=60.0)
        yield server
    finally:
        server.stop()


@contextmanager
def running_replicas(
    database_url: str, count: int, folder: Path
) -> Iterator[list[WorkpoolProcess]]:
    """Run ``count`` servers on one database, and stop them on exit or error.

    They start one after another: the first creates the schema, so the
    others start against a migrated database.
    """
    with ExitStack() as stack:
        servers = [
            stack.enter_context(
                running_server(
                    folder, f"replica-{count}-{index}", database_url=database_url
                )
            )
            for index in range(count)
        ]
        yield servers


def worker_targets(servers: list[WorkpoolProcess], workers: int) -> list[str]:
    """Return one target per worker, listing every replica in rotated order.

    gRPC's default pick_first policy connects to the first address that
    accepts, so worker ``i`` lands on replica ``i mod len(servers)``, and the
    workers spread evenly when ``workers`` is a multiple of the replica count.
    """
    targets = []
    for index in range(workers):
        first = index % len(servers)
        ordered = servers[first:] + servers[:first]
        targets.append("ipv4:" + ",".join(server.target for server in ordered))
    return targets


class WorkerProcesses:
    """``bench/worker.py`` processes serving the same pools, one per target."""

    def __init__(
        self,
        targets: list[str],
        pools: list[str],
        capacity: int,
        record_folder: Path | None = None,
    ):
        self._commands = []
        self.record_files: list[Path] = []
        if record_folder is not None:
            record_folder.mkdir(exist_ok=True)
        for index, target in enumerate(targets):
            command = [sys.executable, str(WORKER_SCRIPT), "--target", target]
            for pool in pools:
                command += ["--pool", pool]
            command += ["--capacity", str(capacity)]
            if record_folder is not None:
                record = record_folder / f"attempts-{index}.txt"
                self.record_files.append(record)
                command += ["--record", str(record)]
            self._commands.append(command)
        self.count = len(targets)
        self._processes: list[subprocess.Popen[bytes]] = []

    @property
    def pids(self) -> list[int]:
        return [process.pid for process in self._processes]

    def start(self, metrics_urls: list[str]) -> None:
        """Start the processes and wait until the servers count their streams.

        ``metrics_urls`` lists every server the workers may connect to, since
        each server's gauge counts only its own streams.
        """
        connected_before = _connected_to_all(metrics_urls)
        for command in self._commands:
            self._processes.append(subprocess.Popen(command, start_new_session=True))

        deadline = time.monotonic() + _WORKER_CONNECT_TIMEOUT_SECONDS
        while _connected_to_all(metrics_urls) < connected_before + self.count:
            for process in self._processes:
                if process.poll() is not None:
                    raise RuntimeError(
                        f"a benchmark worker exited with status {process.returncode}"
                    )
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{self.count} benchmark workers did not connect within "
                    f"{_WORKER_CONNECT_TIMEOUT_SECONDS:.0f} s"
                )
            time.sleep(0.2)

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


@contextmanager
def running_workers(
    targets: list[str],
    metrics_urls: list[str],
    pools: list[str],
    capacity: int,
    record_folder: Path | None = None,
) -> Iterator[WorkerProcesses]:
    """Run one worker process per target, connected before the body starts."""
    workers = WorkerProcesses(targets, pools, capacity, record_folder)
    try:
        workers.start(metrics_urls)
        yield workers
    finally:
        workers.stop()


def read_metrics(metrics_url: str) -> str:
    with urllib.request.urlopen(metrics_url, timeout=10) as response:
        return response.read().decode()


def metric_sum(text: str, name: str, label: str = "") -> float:
    """Return the sum of the samples of ``name`` whose labels contain ``label``."""
    total = 0.0
    for line in text.splitlines():
        follows = line[len(name) : len(name) + 1]
        if line.startswith(name) and follows in ("{", " ") and label in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def connected_workers(metrics_url: str) -> int:
    """Return the server's ``workpool_workers`` gauge: open worker streams."""
    return int(metric_sum(read_metrics(metrics_url), "workpool_workers"))


def completed_items(metrics_urls: list[str], pool: str) -> int:
    """Return the items of ``pool`` that finished, summed over the servers."""
    label = f'pool="{pool}"'
    return int(
        sum(
            metric_sum(read_metrics(url), "workpool_completed_total", label)
            for url in metrics_urls
        )
    )


def _connected_to_all(metrics_urls: list[str]) -> int:
    return sum(connected_workers(url) for url in metrics_urls)
