"""The HTTP side of the server: Prometheus metrics, the dashboard page and
the JSON API behind it."""

from workpool_server.http.server import HttpServer, start_http_server

__all__ = ["HttpServer", "start_http_server"]
