"""Conformance runner of the Python SDK: runs the scenarios, or plays one role.

Usage (see README.md next to this file):

    python_runner.py --server 127.0.0.1:PORT --scenarios DIR [--only NAME]
    python_runner.py --server 127.0.0.1:PORT --role enqueue --pool P --count N
    python_runner.py --server 127.0.0.1:PORT --role worker --pool P --count N
    python_runner.py --server 127.0.0.1:PORT --role watch --pool P --after S --count N
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from python_scenario import ScenarioRun, StepFailed, connection_settings

from workpool import AsyncClient, Client, WorkContext, Worker

LANGUAGE = "python"
ROLE_WORKER_CAPACITY = 4
ROLE_STOP_GRACE = timedelta(seconds=10)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", required=True, help="server address HOST:PORT")
    parser.add_argument("--scenarios", type=Path, help="folder of scenario files")
    parser.add_argument("--only", help="run only the scenario of this name")
    parser.add_argument("--role", choices=["enqueue", "worker", "watch"])
    parser.add_argument("--pool", help="pool of the role")
    parser.add_argument("--count", type=int, help="items the role handles")
    parser.add_argument(
        "--after", type=int, default=0, help="sequence the watch role starts after"
    )
    args = parser.parse_args(argv)

    if args.role is None and args.scenarios is None:
        parser.error("pass --scenarios DIR, or --role with --pool and --count")
    if args.role is not None and (args.pool is None or args.count is None):
        parser.error(f"--role {args.role} needs --pool and --count")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # The SDK logs worker reconnects and abrupt stops as warnings; keep them
    # on standard error, away from the lines that the orchestrator reads.
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    # Scenarios make handlers fail on purpose, and the SDK logs each failure
    # with its traceback.
    logging.getLogger("workpool._handlers").setLevel(logging.ERROR)

    if args.role == "enqueue":
        return enqueue_role(args.server, args.pool, args.count)
    if args.role == "worker":
        return asyncio.run(worker_role(args.server, args.pool, args.count))
    if args.role == "watch":
        return asyncio.run(watch_role(args.server, args.pool, args.after, args.count))
    scenarios = [
        json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(args.scenarios.glob("*.json"))
    ]
    return asyncio.run(run_scenarios(args.server, scenarios, args.only))


# Scenarios.


async def run_scenarios(
    target: str, scenarios: list[dict[str, Any]], only: str | None
) -> int:
    if only is not None:
        scenarios = [scenario for scenario in scenarios if scenario["name"] == only]
        if not scenarios:
            print(f"FAIL {only}: no scenario of that name", flush=True)
            print(f"{LANGUAGE}: 0 passed, 1 failed", flush=True)
            return 1

    passed = failed = 0
    for scenario in scenarios:
        reason = await run_one(target, scenario)
        if reason is None:
            passed += 1
            print(f"PASS {scenario['name']}", flush=True)
        else:
            failed += 1
            print(f"FAIL {scenario['name']}: {reason}", flush=True)

    print(f"{LANGUAGE}: {passed} passed, {failed} failed", flush=True)
    return 0 if failed == 0 else 1


async def run_one(target: str, scenario: dict[str, Any]) -> str | None:
    """Run one scenario and return None when it passed, else the reason."""
    try:
        await ScenarioRun(target, scenario).run()
    except StepFailed as error:
        return str(error)
    except Exception as error:  # noqa: BLE001 - one broken scenario must not stop the rest
        return f"runner error: {type(error).__name__}: {error}"
    return None


# Roles of the cross-language flows.


def print_json(value: dict[str, Any]) -> None:
    print(json.dumps(value), flush=True)


def enqueue_role(target: str, pool: str, count: int) -> int:
    with Client(target, **connection_settings()) as client:
        for index in range(count):
            work_id = client.enqueue(pool, "echo", {"index": index})
            print_json({"work_id": work_id})
    return 0


async def worker_role(target: str, pool: str, count: int) -> int:
    worker = Worker(
        target, pools=[pool], capacity=ROLE_WORKER_CAPACITY, **connection_settings()
    )
    ran = 0
    done = asyncio.Event()

    @worker.handler("echo")
    async def echo(context: WorkContext, args: Any) -> Any:
        nonlocal ran
        ran += 1
        print_json({"work_id": context.work_id})
        if ran >= count:
            done.set()
        return args

    task = asyncio.create_task(worker.run_async())
    finished_first = await _first_of(task, done.wait())
    if finished_first is task:
        # run_async only returns early when the server rejected the worker.
        task.result()
        return 1

    # The last handler sets the event before it returns, so stop() waits for
    # its result to be acknowledged.
    await worker.stop(ROLE_STOP_GRACE)
    await task
    return 0


async def watch_role(target: str, pool: str, after: int, count: int) -> int:
    async with AsyncClient(target, **connection_settings()) as client:
        if count <= 0:
            return 0
        received = 0
        completions = client.watch_completions(pools=[pool], after_sequence=after)
        async with contextlib.aclosing(completions):
            async for completion in completions:
                print_json(
                    {
                        "sequence": completion.sequence,
                        "work_id": completion.work_id,
                        "result": completion.result.kind.value,
                        "return_value": completion.result.return_value,
                    }
                )
                received += 1
                if received >= count:
                    break
    return 0


async def _first_of(task: asyncio.Task[Any], awaitable: Any) -> asyncio.Future[Any]:
    waiter = asyncio.ensure_future(awaitable)
    done, _ = await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    if waiter not in done:
        waiter.cancel()
        return task
    return waiter


if __name__ == "__main__":
    sys.exit(main())
