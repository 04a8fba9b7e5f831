"""Local processes and servers the demo runs: Workpool, an SMTP sink, a website."""

from __future__ import annotations

import asyncio
import email
import logging
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from email import policy
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

import workpool

logger = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"

# The server's own shutdown grace is 10 s, so a stop that takes longer than
# this has hung and is killed.
_SERVER_STOP_TIMEOUT_SECONDS = 15.0


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


def workpool_command() -> Path:
    """Return the ``workpool`` console script installed beside this Python."""
    command = Path(sys.executable).with_name("workpool")
    if not command.exists():
        raise FileNotFoundError(
            f"{command} not found; run `make venv` to install the server"
        )
    return command


class WorkpoolProcess:
    """A ``workpool serve`` subprocess on 127.0.0.1.

    It opens its own SQLite file ``folder / database_name`` unless
    ``database_url`` names another database, such as a PostgreSQL one that
    several processes share.
    """

    def __init__(
        self,
        folder: Path,
        *,
        database_name: str,
        log_level: str = "INFO",
        database_url: str | None = None,
        log_name: str = "server.log",
    ) -> None:
        self.port = free_port()
        self.http_port = free_port()
        self.database = folder / database_name
        self.database_url = database_url or f"sqlite:///{self.database}"
        self.log_path = folder / log_name
        self._log_level = log_level
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def target(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    @property
    def metrics_url(self) -> str:
        return f"http://{LOOPBACK}:{self.http_port}/metrics"

    @property
    def dashboard_url(self) -> str:
        return f"http://{LOOPBACK}:{self.http_port}/"

    @property
    def pid(self) -> int:
        if self._process is None:
            raise RuntimeError("the Workpool server is not started")
        return self._process.pid

    def start(self, ready_timeout: float = 20.0) -> None:
        """Start the server and wait until a ListPools call succeeds."""
        command = [
            str(workpool_command()),
            "serve",
            "--database-url",
            self.database_url,
            "--listen",
            self.target,
            "--http-listen",
            f"{LOOPBACK}:{self.http_port}",
            "--log-level",
            self._log_level,
        ]
        with self.log_path.open("wb") as log_file:
            # A session of its own keeps a terminal's Ctrl-C away from the
            # server, so the demo stops its workers before the server.
            self._process = subprocess.Popen(
                command,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        logger.info("Workpool server starting", extra={"target": self.target})
        self._wait_ready(ready_timeout)

    def _wait_ready(self, timeout: float) -> None:
        assert self._process is not None
        deadline = time.monotonic() + timeout
        with workpool.Client(self.target, timeout=1.0) as client:
            while True:
                if self._process.poll() is not None:
                    raise RuntimeError(
                        f"the Workpool server exited with status "
                        f"{self._process.returncode}; see {self.log_path}"
                    )
                try:
                    client.list_pools()
                    return
                except (workpool.UnavailableError, workpool.DeadlineExceededError):
                    if time.monotonic() > deadline:
                        raise TimeoutError(
                            f"the Workpool server did not respond on {self.target} "
                            f"within {timeout:.0f} s; see {self.log_path}"
                        ) from None
                    time.sleep(0.1)

    def stop(self) -> None:
        """Send SIGTERM, wait for a graceful stop, and kill the server if it hangs."""
        process = self._process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=_SERVER_STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            logger.warning("Workpool server did not stop; killing it")
            process.kill()
            process.wait()

    def log_tail(self, lines: int = 20) -> str:
        """Return the last lines of the server's output, for error reports."""
        if not self.log_path.exists():
            return ""
        text = self.log_path.read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])


@dataclass(frozen=True)
class ReceivedMessage:
    """One message accepted by the SMTP sink."""

    sender: str
    recipients: tuple[str, ...]
    subject: str


class MailSink:
    """An SMTP server that keeps every message it receives in memory.

    Each message waits ``delay_seconds`` before it is accepted, like a remote
    relay would, so the demo's progress display has something to show.
    """

    def __init__(self, *, delay_seconds: float = 0.25) -> None:
        self.port = free_port()
        self._delay_seconds = delay_seconds
        self._messages: list[ReceivedMessage] = []
        self._lock = threading.Lock()
        self._controller = Controller(self, hostname=LOOPBACK, port=self.port)

    @property
    def messages(self) -> list[ReceivedMessage]:
        with self._lock:
            return list(self._messages)

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    # aiosmtpd calls this hook, by name, for each message's DATA command.
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(self._delay_seconds)
        parsed = email.message_from_bytes(envelope.content, policy=policy.default)
        received = ReceivedMessage(
            sender=envelope.mail_from,
            recipients=tuple(envelope.rcpt_tos),
            subject=str(parsed["Subject"]),
        )
        with self._lock:
            self._messages.append(received)
        return "250 Message accepted for delivery"


@dataclass(frozen=True)
class Page:
    """One generated page of the website."""

    path: str
    title: str
    paragraphs: int


class Website:
    """A threaded HTTP server with generated HTML pages.

    ``FLAKY_PATH`` returns 500 on its first request and 200 afterwards;
    ``MISSING_PATH`` always returns 404. Every response waits
    ``delay_seconds``, like a remote site.
    """

    FLAKY_PATH = "/status.html"
    MISSING_PATH = "/old-pricing.html"

    def __init__(self, pages: list[Page], *, delay_seconds: float = 0.3) -> None:
        self.delay_seconds = delay_seconds
        self.pages = {page.path: page for page in pages}
        self._flaky_requests = 0
        self._lock = threading.Lock()
        self._server = _SiteServer((LOOPBACK, 0), _PageHandler, self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="demo-website", daemon=True
        )

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def url(self, path: str) -> str:
        return f"http://{LOOPBACK}:{self.port}{path}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def respond(self, path: str) -> tuple[HTTPStatus, bytes]:
        """Return the status and HTML body for a request path."""
        if path == self.FLAKY_PATH:
            with self._lock:
                self._flaky_requests += 1
                first = self._flaky_requests == 1
            if first:
                return HTTPStatus.INTERNAL_SERVER_ERROR, _html(
                    "Server error", ["The status page is warming up."]
                )

        page = self.pages.get(path)
        if page is None:
            return HTTPStatus.NOT_FOUND, _html("Not found", [f"No page at {path}."])
        body = [f"Paragraph {n} of {page.title}." for n in range(page.paragraphs)]
        return HTTPStatus.OK, _html(page.title, body)


class _SiteServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type, site: Website):
        self.site = site
        super().__init__(address, handler)


class _PageHandler(BaseHTTPRequestHandler):
    server: _SiteServer

    def do_GET(self) -> None:
        site = self.server.site
        time.sleep(site.delay_seconds)
        status, body = site.respond(self.path)
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        # The default writes to stderr, which would break the progress line.
        logger.debug("Website request", extra={"request": format % args})


def _html(title: str, paragraphs: list[str]) -> bytes:
    body = "".join(f"<p>{text}</p>" for text in paragraphs)
    page = (
        f"<!doctype html><html><head><title>{title}</title></head>"
        f"<body><h1>{title}</h1>{body}</body></html>"
    )
    return page.encode()
