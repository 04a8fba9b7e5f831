"""Worker handlers of the demo, and the SQLite log table their follow-ups write."""

from __future__ import annotations

import smtplib
import sqlite3
import urllib.error
import urllib.request
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import make_msgid
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import workpool
from demo.services import LOOPBACK

SENDER = "demo@example.com"

# Client errors that a later attempt may not see again: a request timeout and
# rate limiting. Every other 4xx fails the page at once.
_RETRYABLE_CLIENT_ERRORS = frozenset({408, 429})

_NETWORK_TIMEOUT_SECONDS = 10.0
_SQLITE_LOCK_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class LogRow:
    """One row of the log table: how a work item ended."""

    work_id: str
    function: str
    result_kind: str
    detail: str
    logged_at: str


class LogTable:
    """The ``log`` table in the demo's own SQLite file.

    Each call opens its own connection, because sync handlers run in the
    worker's thread pool and a sqlite3 connection belongs to one thread.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def create(self) -> None:
        with closing(self._connect()) as connection, connection:
            connection.execute(
                "CREATE TABLE IF NOT EXISTS log ("
                " id INTEGER PRIMARY KEY,"
                " work_id TEXT NOT NULL,"
                " function TEXT NOT NULL,"
                " result_kind TEXT NOT NULL,"
                " detail TEXT NOT NULL,"
                " logged_at TEXT NOT NULL)"
            )

    def insert(
        self, work_id: str, function: str, result_kind: str, detail: str
    ) -> None:
        logged_at = datetime.now(UTC).isoformat(timespec="milliseconds")
        with closing(self._connect()) as connection, connection:
            connection.execute(
                "INSERT INTO log (work_id, function, result_kind, detail, logged_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (work_id, function, result_kind, detail, logged_at),
            )

    def rows(self) -> list[LogRow]:
        with closing(self._connect()) as connection:
            cursor = connection.execute(
                "SELECT work_id, function, result_kind, detail, logged_at"
                " FROM log ORDER BY id"
            )
            return [LogRow(*row) for row in cursor]

    def _connect(self) -> sqlite3.Connection:
        # Follow-ups of both pools may write at once; wait for the lock.
        return sqlite3.connect(self.path, timeout=_SQLITE_LOCK_TIMEOUT_SECONDS)


class _TitleParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        self._in_title = tag == "title"

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data


def page_title(html: str) -> str:
    """Return the text of the page's ``<title>``, or an empty string."""
    parser = _TitleParser()
    parser.feed(html)
    return parser.title.strip()


class DemoHandlers:
    """Handlers for ``email.send`` and ``scrape.fetch`` and their follow-ups."""

    def __init__(self, *, smtp_port: int, log_table: LogTable) -> None:
        self._smtp_port = smtp_port
        self._log_table = log_table

    def register(
        self, email_worker: workpool.Worker, scrape_worker: workpool.Worker
    ) -> None:
        email_worker.register("email.send", self.send_email)
        email_worker.on_complete("email.sent")(self.log_email)
        scrape_worker.register("scrape.fetch", self.fetch_page)
        scrape_worker.on_complete("scrape.done")(self.log_page)

    def send_email(self, context: workpool.WorkContext, args: dict) -> dict:
        """Deliver one message to the SMTP sink; any SMTP error is retried."""
        message = EmailMessage()
        message["From"] = SENDER
        message["To"] = args["to"]
        message["Subject"] = args["subject"]
        message["Message-ID"] = make_msgid(domain="example.com")
        message.set_content(args["body"])

        with smtplib.SMTP(
            LOOPBACK, self._smtp_port, timeout=_NETWORK_TIMEOUT_SECONDS
        ) as smtp:
            smtp.send_message(message)
        return {"to": args["to"], "message_id": message["Message-ID"]}

    def fetch_page(self, context: workpool.WorkContext, args: dict) -> dict:
        """Fetch a page and return its title and size.

        A 5xx answer or a network error fails the attempt, which is retried;
        a 4xx answer other than 408 and 429 fails the item for good.
        """
        url = args["url"]
        try:
            with urllib.request.urlopen(
                url, timeout=_NETWORK_TIMEOUT_SECONDS
            ) as response:
                body = response.read()
        except urllib.error.HTTPError as error:
            if 400 <= error.code < 500 and error.code not in _RETRYABLE_CLIENT_ERRORS:
                raise workpool.NonRetryableError(
                    f"HTTP {error.code} for {url}"
                ) from error
            raise

        title = page_title(body.decode("utf-8", errors="replace"))
        return {"url": url, "title": title, "bytes": len(body)}

    def log_email(
        self, context: workpool.WorkContext, event: workpool.CompletionEvent
    ) -> None:
        result = event.result
        if result.succeeded:
            detail = f"delivered to {result.return_value['to']}"
        else:
            detail = _failure_detail(result)
        self._log_table.insert(event.work_id, "email.send", result.kind, detail)

    def log_page(
        self, context: workpool.WorkContext, event: workpool.CompletionEvent
    ) -> None:
        result = event.result
        if result.succeeded:
            value = result.return_value
            detail = f"{value['title']} ({value['bytes']} bytes)"
        else:
            detail = _failure_detail(result)
        self._log_table.insert(event.work_id, "scrape.fetch", result.kind, detail)


def _failure_detail(result: workpool.Result) -> str:
    if result.canceled:
        return "canceled"
    return result.error or ""
