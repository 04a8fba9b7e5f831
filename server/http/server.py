"""A small threaded HTTP server for /metrics, the dashboard and its API.

Requests run on threads of the standard library's ThreadingHTTPServer. Each
engine call goes to the server's asyncio loop with run_coroutine_threadsafe,
because the engine is not thread-safe.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import socket
import threading
from collections.abc import Coroutine
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from workpool_server.engine.engine import Engine
from workpool_server.errors import WorkpoolError
from workpool_server.http import api
from workpool_server.security import TokenTable

logger = logging.getLogger(__name__)

# How long a request waits for the engine before it returns 503.
ENGINE_TIMEOUT_SECONDS = 10.0
MAX_BODY_BYTES = 64 * 1024

STATIC_FILES = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/static/dashboard.js": ("dashboard.js", "text/javascript; charset=utf-8"),
    "/static/dashboard.css": ("dashboard.css", "text/css; charset=utf-8"),
}
# The page loads nothing from other origins, and nothing may frame it.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

_POOL_PATH = re.compile(r"^/api/pools/([^/]+)$")
_FAILURES_PATH = re.compile(r"^/api/pools/([^/]+)/failures$")
_WORK_PATH = re.compile(r"^/api/work/([^/]+)$")
_CANCEL_PATH = re.compile(r"^/api/work/([^/]+)/cancel$")


class HttpServer:
    """The running HTTP listener and its thread."""

    def __init__(self, server: ThreadingHTTPServer) -> None:
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, name="workpool-http", daemon=True
        )

    @property
    def server_port(self) -> int:
        return self._server.server_address[1]

    def start(self) -> None:
        self._thread.start()

    def shutdown(self) -> None:
        """Stop accepting requests and close the listening socket.

        Blocks until the accept loop ends, so call it off the event loop:
        requests in flight may be waiting for that loop.
        """
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def start_http_server(
    listen: str,
    engine: Engine,
    registry: CollectorRegistry,
    loop: asyncio.AbstractEventLoop,
    tokens: TokenTable | None = None,
) -> HttpServer:
    """Bind `listen` ("host:port", "[v6]:port") and serve on a new thread.

    With tokens, the JSON API needs a valid bearer token, and its actions a
    token with the admin role. /metrics and the static page stay open.
    """
    host, _, port_text = listen.rpartition(":")
    host = host.strip("[]")
    server_class = _V6Server if ":" in host else _V4Server
    server = server_class((host, int(port_text)), _Handler)
    server.engine = engine
    server.registry = registry
    server.loop = loop
    server.tokens = tokens or TokenTable(())
    running = HttpServer(server)
    running.start()
    return running


class _V4Server(ThreadingHTTPServer):
    # Handler threads must not hold up the process at exit or shutdown.
    daemon_threads = True
    engine: Engine
    registry: CollectorRegistry
    loop: asyncio.AbstractEventLoop
    tokens: TokenTable


class _V6Server(_V4Server):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    server: _V4Server
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802
        path = urlsplit(self.path).path
        if path == "/metrics":
            self._send(200, generate_latest(self.server.registry), CONTENT_TYPE_LATEST)
            return
        if path in STATIC_FILES:
            name, content_type = STATIC_FILES[path]
            body = resources.files(__package__).joinpath("static", name).read_bytes()
            self._send(200, body, content_type)
            return
        if path.startswith("/api/") and not self._authorized(role=""):
            return
        if path == "/api/pools":
            engine, registry = self.server.engine, self.server.registry
            self._call(api.list_pools(engine, registry))
            return
        if match := _WORK_PATH.match(path):
            work_id = match.group(1)
            self._call(api.get_work(self.server.engine, work_id))
            return
        if match := _FAILURES_PATH.match(path):
            name = match.group(1)
            self._call(api.recent_failures(self.server.engine, name))
            return
        self._send_json(404, {"error": f"no such page: {path[:200]}"})

    def do_POST(self) -> None:  # noqa: N802
        path = urlsplit(self.path).path
        if not self._authorized(role="admin"):
            return
        body = self._read_json()
        if body is _REJECTED:
            return
        if match := _POOL_PATH.match(path):
            name = match.group(1)
            self._call(api.set_parallelism(self.server.engine, name, body))
            return
        if match := _CANCEL_PATH.match(path):
            work_id = match.group(1)
            self._call(api.cancel_work(self.server.engine, work_id))
            return
        self._send_json(404, {"error": f"no such action: {path[:200]}"})

    def _authorized(self, role: str) -> bool:
        """Check the bearer token when the server has tokens, or respond.

        `role` is the role the request needs; "" accepts any valid token.
        """
        tokens = self.server.tokens
        if not tokens:
            return True
        header = self.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        entry = tokens.lookup(token.strip()) if scheme.lower() == "bearer" else None
        if entry is None or (role and role not in entry.roles):
            # A refused POST leaves its body unread, so the connection cannot
            # carry another request.
            self.close_connection = True
        if entry is None:
            self._send_json(
                401,
                {"error": "send 'Authorization: Bearer TOKEN' with a listed token"},
                extra_headers={"WWW-Authenticate": "Bearer"},
            )
            return False
        if role and role not in entry.roles:
            self._send_json(
                403, {"error": f"token {entry.name!r} lacks the role {role!r}"}
            )
            return False
        return True

    def _read_json(self) -> Any:
        """Read a POST body, or respond to the request and return _REJECTED.

        Requiring a JSON content type and a same-origin Origin keeps other
        web pages open in the user's browser from posting actions: a form
        cannot send JSON, and a script from another origin must send Origin.
        """
        origin = self.headers.get("Origin")
        host = self.headers.get("Host", "")
        if origin is not None and urlsplit(origin).netloc != host:
            self._send_json(403, {"error": f"cross-origin request from {origin}"})
            return _REJECTED
        content_type = self.headers.get("Content-Type", "")
        if content_type.split(";")[0].strip() != "application/json":
            self._send_json(
                415, {"error": "send the body as Content-Type: application/json"}
            )
            return _REJECTED
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self._send_json(413, {"error": f"body over {MAX_BODY_BYTES} bytes"})
            return _REJECTED
        raw = self.rfile.read(length) if length else b"{}"
        try:
            return json.loads(raw)
        except ValueError as error:
            self._send_json(400, {"error": f"invalid JSON body: {error}"})
            return _REJECTED

    def _call(self, call: Coroutine[Any, Any, api.Reply]) -> None:
        """Run an API handler on the engine's loop and send its reply."""
        future = asyncio.run_coroutine_threadsafe(call, self.server.loop)
        try:
            status, body = future.result(ENGINE_TIMEOUT_SECONDS)
        except WorkpoolError as error:
            status, body = api.error_status(error), {"error": str(error)}
            logger.debug(
                "dashboard request rejected",
                extra={
                    "event": "http_request_rejected",
                    "path": self.path[:200],
                    "status": status,
                    "error": str(error),
                },
            )
        except TimeoutError:
            future.cancel()
            status, body = 503, {"error": "the engine timed out; retry later"}
            logger.warning(
                "dashboard request timed out",
                extra={"event": "http_request_timed_out", "path": self.path[:200]},
            )
        except Exception:
            logger.exception(
                "dashboard request failed",
                extra={"event": "http_request_failed", "path": self.path[:200]},
            )
            status, body = 500, {"error": "internal error; see the server log"}
        self._send_json(status, body)

    def _send_json(
        self,
        status: int,
        body: dict[str, Any],
        extra_headers: dict[str, str] | None = None,
    ) -> None:
        payload = json.dumps(body).encode()
        self._send(status, payload, "application/json", extra_headers)

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str,
        extra_headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        for name, value in (extra_headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in SECURITY_HEADERS.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        # Requests go to the debug log, not to stderr as the base class does.
        logger.debug(
            "http request",
            extra={"event": "http_request", "client": self.client_address[0]},
        )


_REJECTED = object()
