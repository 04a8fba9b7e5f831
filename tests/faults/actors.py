"""Client and worker processes for the crash-loop tests.

    python -m tests.faults.actors enqueue TARGET POOL PREFIX OUT_FILE SEED
    python -m tests.faults.actors work TARGET POOL SEED
    python -m tests.faults.actors fault-worker TARGET POOL RUNS_FILE

`enqueue` enqueues items with the idempotency keys PREFIX-0, PREFIX-1, ...,
each with an on-complete follow-up, and retries a key until the server
acknowledges it, so a server killed mid-call creates no second item. It
appends one line `KEY WORK_ID` to OUT_FILE per acknowledged enqueue and exits
after SIGTERM, once the key in flight is acknowledged. `work` runs a Python
SDK worker for the items and their follow-ups until it is killed.

`fault-worker` runs a worker whose `task` handler appends `WORK_ID ATTEMPT`
to RUNS_FILE and then, on attempt 1, misbehaves as the item's `mode` arg
selects: `hold` never returns, `hang` returns after `seconds`, and `die` kills
its own process with SIGKILL after the handler's work but before the result
is reported. Later attempts return at once.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
from datetime import timedelta

import workpool

JOB_FUNCTION = "job"
FOLLOW_UP_FUNCTION = "job.done"
# Pause between enqueues, so that a run of about a minute stays at a few
# hundred items.
ENQUEUE_PAUSE_SECONDS = 0.05
RETRY_PAUSE_SECONDS = 0.05


async def enqueue_until_stopped(
    target: str, pool: str, prefix: str, out_path: str, seed: int
) -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    rng = random.Random(seed)

    # Opened once before the loop, because each line is a small append.
    out = open(out_path, "a", encoding="utf-8")  # noqa: ASYNC230, SIM115
    async with workpool.AsyncClient(target, timeout=timedelta(seconds=5)) as client:
        number = 0
        while not stop.is_set():
            key = f"{prefix}-{number}"
            work_id = await _enqueue_acknowledged(client, pool, key, number)
            out.write(f"{key} {work_id}\n")
            out.flush()
            number += 1
            await asyncio.sleep(rng.uniform(0, 2 * ENQUEUE_PAUSE_SECONDS))
    out.close()


async def _enqueue_acknowledged(
    client: workpool.AsyncClient, pool: str, key: str, number: int
) -> str:
    """Enqueue one item, retrying with the same key until it is acknowledged."""
    while True:
        try:
            return await client.enqueue(
                pool,
                JOB_FUNCTION,
                {"number": number},
                idempotency_key=key,
                on_complete=workpool.OnComplete(FOLLOW_UP_FUNCTION, {"key": key}),
            )
        except (workpool.InvalidArgumentError, workpool.NotFoundError):
            raise
        except workpool.WorkpoolError as error:
            # A killed server ends calls with UNAVAILABLE, or they time out.
            # Other codes are retried too, and shown in the test's output.
            if not isinstance(
                error, workpool.UnavailableError | workpool.DeadlineExceededError
            ):
                print(f"enqueue {key}: {error!r}", file=sys.stderr, flush=True)
            await asyncio.sleep(RETRY_PAUSE_SECONDS)


def run_worker(target: str, pool: str, seed: int) -> None:
    rng = random.Random(seed)
    worker = workpool.Worker(
        target,
        pools=[pool],
        capacity=8,
        max_reconnect_delay=timedelta(milliseconds=300),
    )

    @worker.handler(JOB_FUNCTION)
    async def job(context, args):
        await asyncio.sleep(rng.uniform(0.005, 0.05))
        return {"number": args["number"]}

    @worker.on_complete(FOLLOW_UP_FUNCTION)
    async def job_done(context, event: workpool.CompletionEvent):
        return {"parent": event.work_id}

    worker.run()


def run_fault_worker(target: str, pool: str, runs_path: str) -> None:
    worker = workpool.Worker(
        target,
        pools=[pool],
        capacity=1,
        max_reconnect_delay=timedelta(milliseconds=300),
    )

    @worker.handler("task")
    async def task(context, args):
        with open(runs_path, "a", encoding="utf-8") as runs:  # noqa: ASYNC230
            runs.write(f"{context.work_id} {context.attempt}\n")
        if context.attempt == 1:
            if args["mode"] == "hold":
                await asyncio.sleep(3600)
            elif args["mode"] == "hang":
                await asyncio.sleep(args["seconds"])
            elif args["mode"] == "die":
                os.kill(os.getpid(), signal.SIGKILL)
        return {"attempt": context.attempt, "pid": os.getpid()}

    worker.run()


def main(argv: list[str]) -> None:
    role, *arguments = argv
    if role == "enqueue":
        target, pool, prefix, out_path, seed = arguments
        asyncio.run(enqueue_until_stopped(target, pool, prefix, out_path, int(seed)))
    elif role == "work":
        target, pool, seed = arguments
        run_worker(target, pool, int(seed))
    elif role == "fault-worker":
        target, pool, runs_path = arguments
        run_fault_worker(target, pool, runs_path)
    else:
        raise SystemExit(f"unknown role {role!r}: use enqueue, work or fault-worker")


if __name__ == "__main__":
    main(sys.argv[1:])
