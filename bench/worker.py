"""A benchmark worker process: runs ``bench.noop`` for the given pools.

The handler returns the wall-clock time it started, in microseconds since
the epoch, so the benchmark can measure start latency across processes.
Stop it with SIGTERM.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from datetime import timedelta
from typing import Any

import workpool

NOOP_FUNCTION = "bench.noop"


async def noop(context: workpool.WorkContext, args: Any) -> dict[str, int]:
    return {"started_us": time.time_ns() // 1_000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--target", required=True, help="server address HOST:PORT")
    parser.add_argument("--pool", action="append", required=True, dest="pools")
    parser.add_argument("--capacity", type=int, default=64, help="handlers at once")
    options = parser.parse_args()

    logging.basicConfig(level=logging.WARNING)
    worker = workpool.Worker(
        options.target,
        pools=options.pools,
        capacity=options.capacity,
        name=f"bench-worker-{os.getpid()}",
    )
    worker.register(NOOP_FUNCTION, noop)
    worker.run(shutdown_grace=timedelta(seconds=5))


if __name__ == "__main__":
    main()
