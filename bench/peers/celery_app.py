"""The Celery application of the Celery peer, configured from the environment.

``BENCH_REDIS_URL`` names the broker. The no-op task increments a Redis
counter, which is how the benchmark counts completions: results are off
(``ignore_result``), as is usual for fire-and-forget tasks.
"""

from __future__ import annotations

import os

import redis
from celery import Celery

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
COUNTER_KEY = "bench:completed"

app = Celery("bench", broker=REDIS_URL)
app.conf.update(
    task_ignore_result=True,
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
)

_counter = redis.Redis.from_url(REDIS_URL)


@app.task(name="bench.noop")
def noop() -> None:
    _counter.incr(COUNTER_KEY)
