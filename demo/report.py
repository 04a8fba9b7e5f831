"""Check the demo's outcome against what each item should do, and print it."""

from __future__ import annotations

import urllib.request
from typing import TYPE_CHECKING

import workpool
from demo.handlers import LogRow, LogTable
from demo.services import ReceivedMessage, Website

if TYPE_CHECKING:
    from demo.app import DemoRun

# Metric families shown in the summary, out of everything /metrics serves.
SUMMARY_METRICS = (
    "workpool_enqueued_total",
    "workpool_started_total",
    "workpool_retries_total",
    "workpool_completed_total",
)


def expected_page(path: str) -> tuple[workpool.ResultKind, int]:
    """Return the result kind and attempt count a page's fetch should end with."""
    if path == Website.MISSING_PATH:
        return workpool.ResultKind.FAILURE, 1
    if path == Website.FLAKY_PATH:
        return workpool.ResultKind.SUCCESS, 2
    return workpool.ResultKind.SUCCESS, 1


def check_outcome(
    run: DemoRun,
    messages: list[ReceivedMessage],
    site: Website,
    rows: list[LogRow],
) -> list[str]:
    """Return a description of each way the run differs from the expected one."""
    problems: list[str] = []
    completions = run.tracker.items

    for work_id in run.email_ids:
        completion = completions.get(work_id)
        if completion is None or not completion.result.succeeded:
            problems.append(f"email {work_id} did not succeed: {completion}")
    if len(messages) != len(run.email_ids):
        problems.append(
            f"the SMTP sink received {len(messages)} messages, "
            f"expected {len(run.email_ids)}"
        )

    for work_id, path in run.page_ids.items():
        completion = completions.get(work_id)
        kind, attempts = expected_page(path)
        if completion is None:
            problems.append(f"no completion for {path} ({work_id})")
        elif (completion.result.kind, completion.attempts) != (kind, attempts):
            problems.append(
                f"{path} ended as {completion.result.kind} after "
                f"{completion.attempts} attempts, expected {kind} after {attempts}"
            )

    expected_follow_ups = len(run.email_ids) + len(run.page_ids)
    succeeded_follow_ups = [
        c for c in run.tracker.follow_ups.values() if c.result.succeeded
    ]
    if len(succeeded_follow_ups) != expected_follow_ups:
        problems.append(
            f"{len(succeeded_follow_ups)} follow-ups succeeded, "
            f"expected {expected_follow_ups}"
        )

    logged = {row.work_id: row.result_kind for row in rows}
    finished = {work_id: c.result.kind.value for work_id, c in completions.items()}
    if logged != finished:
        problems.append(
            f"the log table has {len(rows)} rows that do not match the "
            f"{len(finished)} completions"
        )
    return problems


def print_summary(
    run: DemoRun,
    messages: list[ReceivedMessage],
    site: Website,
    log_table: LogTable,
    metrics_url: str,
) -> None:
    print(f"\nThe SMTP sink received {len(messages)} messages:")
    for message in messages:
        print(f"  {', '.join(message.recipients):<24} {message.subject}")

    print(f"\nPages ({len(run.page_ids)} enqueued):")
    for work_id, path in run.page_ids.items():
        completion = run.tracker.items[work_id]
        result = completion.result
        if result.succeeded:
            value = result.return_value
            outcome = f"{value['title']!r}, {value['bytes']} bytes"
        else:
            outcome = result.error or result.kind.value
        attempts = "attempt" if completion.attempts == 1 else "attempts"
        print(
            f"  {path:<24} {result.kind.value:<8} {completion.attempts} {attempts:<8}"
            f" {outcome}"
        )

    rows = log_table.rows()
    print(f"\nRows of the log table in {log_table.path.name} ({len(rows)}):")
    for row in rows:
        print(
            f"  {row.logged_at}  {row.work_id}  {row.function:<12} "
            f"{row.result_kind:<8} {row.detail}"
        )

    print(f"\nFrom {metrics_url}:")
    for line in metric_lines(metrics_url):
        print(f"  {line}")


def metric_lines(metrics_url: str) -> list[str]:
    """Return the samples of SUMMARY_METRICS from the Prometheus endpoint."""
    with urllib.request.urlopen(metrics_url, timeout=5) as response:
        text = response.read().decode()
    return [line for line in text.splitlines() if line.startswith(SUMMARY_METRICS)]
