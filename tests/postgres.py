"""A throwaway PostgreSQL cluster on loopback for the test session.

Set WORKPOOL_TEST_POSTGRES_URL to use a running server instead, such as
postgresql://postgres@127.0.0.1:5432/postgres (the user must be allowed to
create databases).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import psycopg

ENV_URL = "WORKPOOL_TEST_POSTGRES_URL"


def _find_binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresCluster:
    """A cluster started with initdb and pg_ctl in a temporary folder."""

    def __init__(self) -> None:
        self.admin_url = os.environ.get(ENV_URL, "")
        self._folder: Path | None = None
        self._pg_ctl: str | None = None
        self._run_as: list[str] = []

    @staticmethod
    def available() -> bool:
        return bool(os.environ.get(ENV_URL)) or _find_binary("initdb") is not None

    def start(self) -> None:
        if self.admin_url:
            return
        initdb = _find_binary("initdb")
        self._pg_ctl = _find_binary("pg_ctl")
        if initdb is None or self._pg_ctl is None:
            raise RuntimeError("initdb and pg_ctl not found: install postgresql")

        self._folder = Path(tempfile.mkdtemp(prefix="workpool-pg-"))
        data = self._folder / "data"
        # PostgreSQL refuses to run as root, so root runs it as "postgres".
        if os.geteuid() == 0:
            shutil.chown(self._folder, "postgres")
            self._run_as = ["runuser", "-u", "postgres", "--"]
        port = _free_port()
        subprocess.run(
            [*self._run_as, initdb, "-D", str(data), "-U", "postgres",
             "--auth=trust", "--no-sync", "-E", "UTF8"],
            check=True,
            capture_output=True,
        )  # fmt: skip
        options = (
            f"-p {port} -k {self._folder} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=300"
        )
        subprocess.run(
            [*self._run_as, self._pg_ctl, "-D", str(data), "-o", options,
             "-l", str(self._folder / "server.log"), "-w", "start"],
            check=True,
            capture_output=True,
        )  # fmt: skip
        self.admin_url = f"postgresql://postgres@127.0.0.1:{port}/postgres"

    def create_database(self) -> str:
        """Create an empty database and return its URL."""
        name = "workpool_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.admin_url, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        base, _, _ = self.admin_url.rpartition("/")
        return f"{base}/{name}"

    def stop(self) -> None:
        if self._folder is None or self._pg_ctl is None:
            return
        subprocess.run(
            [*self._run_as, self._pg_ctl, "-D", str(self._folder / "data"),
             "-m", "immediate", "stop"],
            check=False,
            capture_output=True,
        )  # fmt: skip
        shutil.rmtree(self._folder, ignore_errors=True)
