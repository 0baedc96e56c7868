"""``/metrics`` of a ``newremora worker`` process, which serves no API: a small HTTP listener of its own,
on NEWREMORA_HOST:NEWREMORA_METRICS_PORT, in a thread."""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from app.clock import rfc3339, utcnow
from app.errors import ConfigurationError, MetricsUnauthorized
from app.metrics.access import metrics_allowed
from app.metrics.process import ProcessMetrics
from app.settings import Secret

log = logging.getLogger(__name__)

StartResponse = Callable[..., Any]


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Server6(_Server):
    address_family = socket.AF_INET6


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass  # a scrape every few seconds is not worth a log line


def _error(
    start_response: StartResponse, status: str, message: str, headers: tuple[tuple[str, str], ...] = ()
) -> Iterable[bytes]:
    """The API's error envelope (without a request id: this listener takes no requests but scrapes)."""
    start_response(status, [("Content-Type", "application/json"), *headers])
    body = {"success": False, "data": None, "error": message, "timestamp": rfc3339(utcnow())}
    return [json.dumps(body).encode()]


class MetricsServer:
    def __init__(self, metrics: ProcessMetrics, host: str, port: int, token: Secret | None) -> None:
        self.metrics = metrics
        self.token = token
        server_class = _Server6 if ":" in host else _Server
        try:
            self._server = make_server(host, port, self._app, server_class=server_class, handler_class=_QuietHandler)
        except OSError as exc:
            raise ConfigurationError(f"NEWREMORA_METRICS_PORT: cannot listen on {host}:{port} ({exc})") from exc
        self._thread = threading.Thread(target=self._server.serve_forever, name="metrics-http", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_port)

    def _app(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != "/metrics":
            return _error(start_response, "404 Not Found", "Not found: this port serves /metrics only")
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return _error(start_response, "405 Method Not Allowed", "Method not allowed")
        if not metrics_allowed(self.token, environ.get("HTTP_AUTHORIZATION")):
            return _error(
                start_response, "401 Unauthorized", MetricsUnauthorized().message, (("WWW-Authenticate", "Bearer"),)
            )
        body, content_type = self.metrics.render(environ.get("HTTP_ACCEPT"))
        start_response("200 OK", [("Content-Type", content_type), ("Content-Length", str(len(body)))])
        return [body] if environ.get("REQUEST_METHOD") == "GET" else []

    def start(self) -> None:
        self._thread.start()
        log.info("metrics on http://%s:%d/metrics", self._server.server_address[0], self.port)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
