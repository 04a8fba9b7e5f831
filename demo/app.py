"""Run the demo: start the services, enqueue the work, follow it, report."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shutil
import sys
import tempfile
from contextlib import ExitStack, aclosing, suppress
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TextIO

import workpool
from demo.handlers import DemoHandlers, LogTable
from demo.live import stay_up
from demo.progress import PoolProgress, ProgressDisplay
from demo.report import check_outcome, print_summary
from demo.services import MailSink, Page, Website, WorkpoolProcess

logger = logging.getLogger(__name__)

EMAIL_POOL = "email"
SCRAPE_POOL = "scrape"
EMAIL_COUNT = 20
FOLLOW_UP_FUNCTIONS = frozenset({"email.sent", "scrape.done"})

# The work takes about 4 s on a 2-core machine; the limit stops a demo that hangs.
FINISH_TIMEOUT_SECONDS = 45.0
PROGRESS_REFRESH_SECONDS = 0.2
WORKER_STOP_GRACE = timedelta(seconds=5)

EMAIL_RETRY = workpool.RetryPolicy(
    max_attempts=4, initial_backoff=timedelta(milliseconds=500)
)
PAGE_RETRY = workpool.RetryPolicy(
    max_attempts=3, initial_backoff=timedelta(milliseconds=500)
)


def demo_pages() -> list[Page]:
    """Return the website's pages; two more paths fail on purpose."""
    return [
        Page("/index.html", "Workpool home", 3),
        Page("/docs/quickstart.html", "Quickstart", 8),
        Page("/docs/concepts.html", "Concepts", 12),
        Page("/docs/retries.html", "Retries and backoff", 6),
        Page("/docs/follow-ups.html", "Follow-ups", 5),
        Page("/blog/launch.html", "Launching Workpool", 10),
        Page("/blog/sqlite.html", "Why SQLite first", 7),
        Page("/about.html", "About", 2),
        Page(Website.FLAKY_PATH, "Service status", 4),
    ]


def page_paths(site: Website) -> list[str]:
    """Return the paths to scrape: every page and the one that is gone."""
    return [*site.pages, Website.MISSING_PATH]


@dataclass
class CompletionTracker:
    """Completions of the demo's pools, read from WatchCompletions."""

    items: dict[str, workpool.Completion] = field(default_factory=dict)
    follow_ups: dict[str, workpool.Completion] = field(default_factory=dict)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def follow(self, client: workpool.AsyncClient) -> None:
        # The database is new, so a replay from sequence 0 returns every
        # completion, including any that finish before this watch connects.
        stream = client.watch_completions(
            pools=[EMAIL_POOL, SCRAPE_POOL], after_sequence=0
        )
        async with aclosing(stream) as completions:
            async for completion in completions:
                if completion.function in FOLLOW_UP_FUNCTIONS:
                    self.follow_ups[completion.work_id] = completion
                else:
                    self.items[completion.work_id] = completion
                self.changed.set()


@dataclass
class DemoRun:
    """Work ids the demo enqueued and the completions it saw."""

    email_ids: list[str]
    page_ids: dict[str, str]
    tracker: CompletionTracker


# Set to 1 for the run-once behaviour without the flag, as tests and CI do.
ONCE_ENVIRONMENT = "WORKPOOL_DEMO_ONCE"


def parse_arguments(arguments: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m demo",
        description="Run Workpool with an SMTP sink and a website, check the "
        "results, then keep it running with a trickle of work until Ctrl-C.",
    )
    parser.add_argument(
        "--once",
        action="store_true",
        default=os.environ.get(ONCE_ENVIRONMENT) == "1",
        help="exit after the checks instead of staying up (also "
        f"{ONCE_ENVIRONMENT}=1); for unattended runs",
    )
    return parser.parse_args(arguments)


def main(arguments: list[str] | None = None) -> int:
    options = parse_arguments(arguments or [])
    folder = Path(tempfile.mkdtemp(prefix="workpool-demo-"))
    logging.basicConfig(
        filename=folder / "workers.log",
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    server = WorkpoolProcess(folder, database_name="demo.db")
    succeeded = False
    stayed_up = False
    try:
        with ExitStack() as stack:
            # Each stop is registered before its start, so an interrupted
            # start is cleaned up too. ExitStack stops them in reverse order.
            stack.callback(server.stop)
            server.start()
            sink = MailSink()
            stack.callback(sink.stop)
            sink.start()
            site = Website(demo_pages())
            stack.callback(site.stop)
            site.start()
            log_table = LogTable(folder / "demo-log.sqlite")
            log_table.create()

            print(
                f"Workpool server on {server.target} (metrics {server.metrics_url}), "
                f"SMTP sink on port {sink.port}, website on port {site.port}"
            )
            print(f"Files in {folder}")
            run = asyncio.run(
                run_work(server.target, sink.port, site, log_table, sys.stdout)
            )

            problems = check_outcome(run, sink.messages, site, log_table.rows())
            print_summary(run, sink.messages, site, log_table, server.metrics_url)
            succeeded = not problems
            for problem in problems:
                print(f"UNEXPECTED: {problem}")

            if succeeded and not options.once:
                print("Every work item ended as expected.")
                handlers = DemoHandlers(smtp_port=sink.port, log_table=log_table)
                retried = [
                    work_id
                    for work_id, path in run.page_ids.items()
                    if path == Website.FLAKY_PATH
                ]
                asyncio.run(
                    stay_up(
                        server.target,
                        server.dashboard_url,
                        server.metrics_url,
                        site,
                        handlers,
                        retried[0] if retried else None,
                        sys.stdout,
                    )
                )
                stayed_up = True
    except KeyboardInterrupt:
        print("\nInterrupted; the demo stopped every process it started.")
        return 130
    except (OSError, RuntimeError, workpool.WorkpoolError) as error:
        # TimeoutError is an OSError.
        print(f"\nThe demo failed: {error}", file=sys.stderr)
        tail = server.log_tail()
        if tail:
            print(f"Last lines of {server.log_path}:\n{tail}", file=sys.stderr)
        return 1
    finally:
        if succeeded:
            logging.shutdown()
            shutil.rmtree(folder, ignore_errors=True)
        else:
            print(f"Logs and databases kept in {folder}", file=sys.stderr)

    if stayed_up:
        print("Stopped the demo and every process it started.")
        return 0
    if succeeded:
        print("Every work item ended as expected.")
        return 0
    return 1


async def run_work(
    target: str,
    smtp_port: int,
    site: Website,
    log_table: LogTable,
    stream: TextIO,
) -> DemoRun:
    """Create the pools, run the workers, enqueue the work and wait for it."""
    async with workpool.AsyncClient(target) as client:
        await client.create_pool(
            EMAIL_POOL,
            max_parallelism=2,
            retry_by_default=True,
            default_retry=EMAIL_RETRY,
        )
        await client.create_pool(SCRAPE_POOL, max_parallelism=3)

        email_worker = workpool.Worker(
            target, pools=[EMAIL_POOL], capacity=4, name="demo-email"
        )
        scrape_worker = workpool.Worker(
            target, pools=[SCRAPE_POOL], capacity=4, name="demo-scrape"
        )
        DemoHandlers(smtp_port=smtp_port, log_table=log_table).register(
            email_worker, scrape_worker
        )

        tracker = CompletionTracker()
        workers = [
            asyncio.create_task(email_worker.run_async()),
            asyncio.create_task(scrape_worker.run_async()),
        ]
        watch = asyncio.create_task(tracker.follow(client))
        display = ProgressDisplay(stream)
        try:
            run = DemoRun(
                email_ids=await enqueue_emails(client),
                page_ids=await enqueue_pages(client, site),
                tracker=tracker,
            )
            await follow_progress(client, run, display, [*workers, watch])
        finally:
            display.close()
            await asyncio.gather(
                email_worker.stop(WORKER_STOP_GRACE),
                scrape_worker.stop(WORKER_STOP_GRACE),
            )
            watch.cancel()
            await asyncio.gather(*workers, watch, return_exceptions=True)
        return run


async def enqueue_emails(client: workpool.AsyncClient) -> list[str]:
    """Enqueue a newsletter in one batch; the pool's retry policy applies."""
    items = [
        workpool.WorkItem(
            function="email.send",
            args={
                "to": f"reader{number:02d}@example.com",
                "subject": f"Workpool weekly, issue 7 (copy {number})",
                "body": "This week: retries, follow-ups and the metrics endpoint.",
            },
            on_complete=workpool.OnComplete("email.sent", {"campaign": "weekly-7"}),
        )
        for number in range(1, EMAIL_COUNT + 1)
    ]
    return await client.enqueue_batch(EMAIL_POOL, items)


async def enqueue_pages(client: workpool.AsyncClient, site: Website) -> dict[str, str]:
    """Enqueue one fetch per page with its own retry policy; map id to path."""
    page_ids: dict[str, str] = {}
    for path in page_paths(site):
        work_id = await client.enqueue(
            SCRAPE_POOL,
            "scrape.fetch",
            {"url": site.url(path)},
            retry=PAGE_RETRY,
            on_complete=workpool.OnComplete("scrape.done", {"path": path}),
        )
        page_ids[work_id] = path
    return page_ids


async def follow_progress(
    client: workpool.AsyncClient,
    run: DemoRun,
    display: ProgressDisplay,
    background: list[asyncio.Task[None]],
) -> None:
    """Show progress until every item and follow-up finished.

    Raises:
        TimeoutError: the work did not finish within FINISH_TIMEOUT_SECONDS.
        RuntimeError: a worker or the completion watch ended early.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + FINISH_TIMEOUT_SECONDS
    page_ids = list(run.page_ids)
    expected_follow_ups = len(run.email_ids) + len(page_ids)

    while True:
        statuses = await client.status_batch([*run.email_ids, *page_ids])
        email = PoolProgress.from_statuses(EMAIL_POOL, statuses[: len(run.email_ids)])
        scrape = PoolProgress.from_statuses(SCRAPE_POOL, statuses[len(run.email_ids) :])
        logged = len(run.tracker.follow_ups)
        display.show(
            f"{email.describe()} | {scrape.describe()} | "
            f"follow-ups {logged}/{expected_follow_ups}"
        )

        all_finished = email.finished == email.total and scrape.finished == (
            scrape.total
        )
        if all_finished and logged >= expected_follow_ups:
            return

        for task in background:
            if task.done():
                error = None if task.cancelled() else task.exception()
                raise RuntimeError(f"a background task ended early: {error!r}")
        if loop.time() > deadline:
            raise TimeoutError(
                f"the work did not finish within {FINISH_TIMEOUT_SECONDS:.0f} s"
            )

        run.tracker.changed.clear()
        # Redraw at once on a completion, and at least every refresh period
        # for the pending and running counts.
        with suppress(TimeoutError):
            await asyncio.wait_for(run.tracker.changed.wait(), PROGRESS_REFRESH_SECONDS)
