"""Measure two ways to finish a batch of jobs with SQLAlchemy Core on SQLite.

The server finishes each reported attempt with its own ``update(work)``
statement, built in Python per row. This script compares that with one
``executemany`` of a statement built once, over a table shaped like a job
table, in WAL mode with ``synchronous = FULL``, 100 rows per transaction.
It prints rows per second for each way, median of five runs. Run it with
``.venv/bin/python bench/hotpath.py``.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    bindparam,
    create_engine,
    event,
    insert,
    update,
)

ROWS = 20_000
BATCH = 100
RUNS = 5

metadata = MetaData()
jobs = Table(
    "jobs",
    metadata,
    Column("seq", Integer, primary_key=True),
    Column("id", String(32), nullable=False, unique=True),
    Column("state", SmallInteger, nullable=False),
    Column("lease_owner", String(64)),
    Column("lease_expires_at_us", BigInteger),
    Column("result_kind", SmallInteger),
    Column("return_value", LargeBinary),
    Column("finished_at_us", BigInteger),
)


def _engine(path: Path):
    engine = create_engine(f"sqlite:///{path}")

    @event.listens_for(engine, "connect")
    def set_pragmas(connection, _record) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.close()

    metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(
            insert(jobs),
            [
                {"id": f"wk_{n:026d}", "state": 1, "lease_owner": "w"}
                for n in range(ROWS)
            ],
        )
    return engine


def per_row(engine) -> float:
    started = time.perf_counter()
    for offset in range(0, ROWS, BATCH):
        with engine.begin() as connection:
            for seq in range(offset + 1, offset + BATCH + 1):
                connection.execute(
                    update(jobs)
                    .where(jobs.c.seq == seq)
                    .values(
                        state=2,
                        lease_owner=None,
                        lease_expires_at_us=None,
                        result_kind=1,
                        return_value=b"{}",
                        finished_at_us=1,
                    )
                )
    return ROWS / (time.perf_counter() - started)


FINISH = (
    update(jobs)
    .where(jobs.c.seq == bindparam("row_seq"))
    .values(
        state=2,
        lease_owner=None,
        lease_expires_at_us=None,
        result_kind=1,
        return_value=bindparam("value"),
        finished_at_us=bindparam("now"),
    )
)


def batched(engine) -> float:
    started = time.perf_counter()
    for offset in range(0, ROWS, BATCH):
        with engine.begin() as connection:
            connection.execute(
                FINISH,
                [
                    {"row_seq": seq, "value": b"{}", "now": 1}
                    for seq in range(offset + 1, offset + BATCH + 1)
                ],
            )
    return ROWS / (time.perf_counter() - started)


def main() -> None:
    for name, function in (("per-row update", per_row), ("executemany", batched)):
        rates = []
        for _ in range(RUNS):
            with tempfile.TemporaryDirectory() as folder:
                engine = _engine(Path(folder) / "hotpath.db")
                rates.append(function(engine))
                engine.dispose()
        print(
            f"{name}: median {statistics.median(rates):,.0f} rows/s "
            f"(min {min(rates):,.0f}, max {max(rates):,.0f})"
        )


if __name__ == "__main__":
    main()
