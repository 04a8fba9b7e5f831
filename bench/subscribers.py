"""Completion subscribers in a process of their own, for the fan-out scenario.

Opens ``--count`` WatchCompletions streams on one pool, prints ``ready`` once
every stream has its first message, and then records, for each completion
each stream receives, the lag from the completion's ``finished_at`` (server
wall clock) to its arrival (this process's wall clock, on the same machine).
After ``--seconds`` it prints one JSON line with the lag percentiles in
milliseconds and the completions received.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

import grpc

from bench.measure import percentile
from workpool.v1 import workpool_service_pb2, workpool_service_pb2_grpc


async def follow(
    stub: workpool_service_pb2_grpc.WorkpoolServiceStub,
    pool: str,
    ready: asyncio.Event,
    lags_ms: list[float],
    skip_before_us: list[int],
) -> None:
    call = stub.WatchCompletions(
        workpool_service_pb2.WatchCompletionsRequest(pools=[pool])
    )
    try:
        async for message in call:
            ready.set()
            now_us = time.time_ns() // 1_000
            for completion in message.completions:
                finished_us = completion.finished_at.ToMicroseconds()
                if finished_us >= skip_before_us[0]:
                    lags_ms.append((now_us - finished_us) / 1_000)
    except asyncio.CancelledError:
        call.cancel()
        raise


async def run(options: argparse.Namespace) -> dict[str, float]:
    lags_ms: list[float] = []
    # Completions that finished before every stream was open are left out.
    skip_before_us = [sys.maxsize]
    async with grpc.aio.insecure_channel(options.target) as channel:
        stub = workpool_service_pb2_grpc.WorkpoolServiceStub(channel)
        events = [asyncio.Event() for _ in range(options.count)]
        tasks = [
            asyncio.create_task(
                follow(stub, options.pool, event, lags_ms, skip_before_us)
            )
            for event in events
        ]
        await asyncio.gather(*(event.wait() for event in events))
        skip_before_us[0] = time.time_ns() // 1_000
        print("ready", flush=True)
        await asyncio.sleep(options.seconds)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    if not lags_ms:
        return {"received": 0}
    return {
        "received": len(lags_ms),
        "p50_ms": percentile(lags_ms, 0.50),
        "p99_ms": percentile(lags_ms, 0.99),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--target", required=True, help="server address HOST:PORT")
    parser.add_argument("--pool", required=True)
    parser.add_argument("--count", type=int, required=True, help="streams to open")
    parser.add_argument("--seconds", type=float, required=True, help="time to record")
    options = parser.parse_args()
    print(json.dumps(asyncio.run(run(options))), flush=True)


if __name__ == "__main__":
    main()
