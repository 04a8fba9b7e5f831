"""A throwaway PostgreSQL cluster for the benchmark, on 127.0.0.1.

Adapted from tests/postgres.py. Unlike the test cluster, this one keeps the
durability settings at PostgreSQL's defaults (fsync and synchronous_commit
on), as docs/deployment.md recommends for production, so that commits wait
for the disk like the SQLite scenarios' ``synchronous = FULL``. It also exposes the
postmaster's pid, so that the benchmark can count the CPU time of PostgreSQL.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from demo.services import LOOPBACK, free_port

# Bounds on pg_ctl's own waiting (its -t option): a start or stop that takes
# longer has hung.
_START_TIMEOUT_SECONDS = 60
_STOP_TIMEOUT_SECONDS = 30

# Enough for 3 replicas of up to 10 connections each, plus the admin
# connections of the benchmark, with room to spare.
_MAX_CONNECTIONS = 100


def find_binary(name: str) -> str | None:
    """Return the path of a PostgreSQL program on PATH or in the Debian layout."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


class PostgresCluster:
    """A cluster created with initdb in a temporary folder and run by pg_ctl."""

    def __init__(self) -> None:
        self._folder: Path | None = None
        self._run_as: list[str] = []
        self.admin_url = ""

    @staticmethod
    def available() -> bool:
        return find_binary("initdb") is not None and find_binary("pg_ctl") is not None

    @property
    def data_dir(self) -> Path:
        if self._folder is None:
            raise RuntimeError("the PostgreSQL cluster is not started")
        return self._folder / "data"

    def start(self) -> None:
        initdb = find_binary("initdb")
        pg_ctl = find_binary("pg_ctl")
        if initdb is None or pg_ctl is None:
            raise RuntimeError(
                "initdb or pg_ctl not found on PATH or in /usr/lib/postgresql/*/bin. "
                "Install PostgreSQL to run the PostgreSQL scenarios."
            )

        # A folder of its own in the system's temporary folder, because the
        # postgres user cannot enter the benchmark's folder, which is private
        # to the user who runs the benchmark.
        self._folder = Path(tempfile.mkdtemp(prefix="workpool-bench-pg-"))
        # PostgreSQL refuses to run as root, so root runs it as "postgres".
        if os.geteuid() == 0:
            shutil.chown(self._folder, "postgres")
            self._run_as = ["runuser", "-u", "postgres", "--"]

        subprocess.run(
            [*self._run_as, initdb, "-D", str(self.data_dir), "-U", "postgres",
             "--auth=trust", "--no-sync", "-E", "UTF8"],
            check=True,
            capture_output=True,
        )  # fmt: skip
        port = free_port()
        options = (
            f"-p {port} -k {self._folder} -c listen_addresses={LOOPBACK} "
            f"-c max_connections={_MAX_CONNECTIONS}"
        )
        subprocess.run(
            [*self._run_as, pg_ctl, "-D", str(self.data_dir), "-o", options,
             "-l", str(self._folder / "server.log"), "-w",
             "-t", str(_START_TIMEOUT_SECONDS), "start"],
            check=True,
            capture_output=True,
        )  # fmt: skip
        self.admin_url = f"postgresql://postgres@{LOOPBACK}:{port}/postgres"

    def postmaster_pid(self) -> int:
        """Return the pid on the first line of DATADIR/postmaster.pid."""
        lines = (self.data_dir / "postmaster.pid").read_text().splitlines()
        return int(lines[0])

    def create_database(self) -> str:
        """Create an empty database and return its URL."""
        name = "workpool_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.admin_url, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        base, _, _ = self.admin_url.rpartition("/")
        return f"{base}/{name}"

    def stop(self) -> None:
        """Stop the cluster, if it runs, and delete its folder.

        A fast shutdown ends the sessions and writes a checkpoint. When that
        does not finish in time, an immediate shutdown ends the processes.
        """
        if self._folder is None:
            return
        pg_ctl = find_binary("pg_ctl")
        if pg_ctl is not None and (self.data_dir / "postmaster.pid").exists():
            for mode in ("fast", "immediate"):
                stopped = subprocess.run(
                    [*self._run_as, pg_ctl, "-D", str(self.data_dir), "-m", mode,
                     "-w", "-t", str(_STOP_TIMEOUT_SECONDS), "stop"],
                    check=False,
                    capture_output=True,
                )  # fmt: skip
                if stopped.returncode == 0:
                    break
        shutil.rmtree(self._folder, ignore_errors=True)
        self._folder = None


@contextmanager
def running_cluster() -> Iterator[PostgresCluster]:
    """Run a cluster in a temporary folder, and stop it on exit or error."""
    cluster = PostgresCluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
