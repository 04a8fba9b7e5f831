"""Keep the demo running after its checks: a trickle of work, a paused pool and
an item scheduled for later, until Ctrl-C (SIGINT) or SIGTERM."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
from dataclasses import dataclass
from datetime import timedelta
from typing import TextIO

import workpool
from demo.handlers import DemoHandlers
from demo.services import Website, workpool_command

PAUSED_POOL = "reports"
PAUSED_FUNCTION = "report.build"
SCHEDULED_DELAY = timedelta(hours=1)
# One email and one page fetch per period keep the dashboard's throughput
# graph moving without filling the SMTP sink's memory quickly.
TRICKLE_PERIOD_SECONDS = 2.0
WORKER_STOP_GRACE = timedelta(seconds=5)


@dataclass(frozen=True)
class LiveExamples:
    """Items that the printed commands explain and show."""

    paused_id: str
    scheduled_id: str
    retried_id: str | None


async def stay_up(
    target: str,
    dashboard_url: str,
    metrics_url: str,
    site: Website,
    handlers: DemoHandlers,
    retried_id: str | None,
    stream: TextIO,
) -> None:
    """Run workers and a trickle of work until SIGINT or SIGTERM arrives."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)

    email_worker = workpool.Worker(
        target, pools=["email"], capacity=4, name="demo-email"
    )
    scrape_worker = workpool.Worker(
        target, pools=["scrape"], capacity=4, name="demo-scrape"
    )
    handlers.register(email_worker, scrape_worker)
    workers = [
        asyncio.create_task(email_worker.run_async()),
        asyncio.create_task(scrape_worker.run_async()),
    ]
    try:
        async with workpool.AsyncClient(target) as client:
            examples = await enqueue_examples(client, site, retried_id)
            print_instructions(target, dashboard_url, metrics_url, examples, stream)
            await trickle(client, site, stop, workers)
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        await asyncio.gather(
            email_worker.stop(WORKER_STOP_GRACE),
            scrape_worker.stop(WORKER_STOP_GRACE),
        )
        await asyncio.gather(*workers, return_exceptions=True)


async def enqueue_examples(
    client: workpool.AsyncClient, site: Website, retried_id: str | None
) -> LiveExamples:
    """Create a paused pool with waiting work, and schedule a fetch for later."""
    await client.create_pool(PAUSED_POOL, max_parallelism=0)
    paused_id = await client.enqueue(
        PAUSED_POOL, PAUSED_FUNCTION, {"report": "weekly-summary"}
    )
    scheduled_id = await client.enqueue(
        "scrape",
        "scrape.fetch",
        {"url": site.url("/index.html")},
        run_after=SCHEDULED_DELAY,
    )
    return LiveExamples(paused_id, scheduled_id, retried_id)


def print_instructions(
    target: str,
    dashboard_url: str,
    metrics_url: str,
    examples: LiveExamples,
    stream: TextIO,
) -> None:
    command = f"{_command_path()} --server {target}"
    lines = [
        "",
        "The demo keeps running: one email and one page fetch every "
        f"{TRICKLE_PERIOD_SECONDS:g} s.",
        f"  Dashboard: {dashboard_url}",
        f"  Metrics:   {metrics_url}",
        f"  Pool {PAUSED_POOL!r} is paused, so its item waits:",
        f"    {command} explain {examples.paused_id}",
        "  A page fetch is scheduled an hour from now:",
        f"    {command} explain {examples.scheduled_id}",
    ]
    if examples.retried_id is not None:
        lines += [
            "  A page fetch that failed once and then succeeded, attempt by attempt:",
            f"    {command} status {examples.retried_id} --attempts --output text",
        ]
    lines += ["Press Ctrl-C to stop.", ""]
    print("\n".join(lines), file=stream, flush=True)


def _command_path() -> str:
    """Return the workpool command relative to the working folder when it is
    inside it, so the printed commands stay short."""
    command = workpool_command()
    relative = os.path.relpath(command)
    return command.as_posix() if relative.startswith("..") else relative


async def trickle(
    client: workpool.AsyncClient,
    site: Website,
    stop: asyncio.Event,
    workers: list[asyncio.Task[None]],
) -> None:
    """Enqueue one email and one page fetch per period until `stop` is set.

    Raises:
        RuntimeError: a worker ended on its own.
    """
    pages = itertools.cycle(
        sorted(path for path in site.pages if path != site.FLAKY_PATH)
    )
    for number in itertools.count(1):
        await client.enqueue(
            "email",
            "email.send",
            {
                "to": f"live{number:04d}@example.com",
                "subject": f"Workpool live demo, message {number}",
                "body": "Sent by the running demo.",
            },
        )
        await client.enqueue("scrape", "scrape.fetch", {"url": site.url(next(pages))})

        for task in workers:
            if task.done():
                error = None if task.cancelled() else task.exception()
                raise RuntimeError(f"a demo worker ended early: {error!r}")
        try:
            await asyncio.wait_for(stop.wait(), TRICKLE_PERIOD_SECONDS)
            return
        except TimeoutError:
            continue
