"""A real HTTP receiver on loopback for outgoing webhooks: answers each POST with the next status of its path's
script (the last one again once the script runs out), keeps every request, and can hold an answer until told."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int

    def json(self) -> Any:
        return json.loads(self.body)

    def signed_by(self, secret: str) -> bool:
        expected = "sha256=" + hmac.new(secret.encode(), self.body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, self.headers.get("x-newremora-signature-256", ""))


class Receiver:
    def __init__(self, scripts: Mapping[str, Sequence[int]]) -> None:
        self._scripts = {path: list(statuses) for path, statuses in scripts.items()}
        self._lock = threading.Lock()
        self.received: list[Received] = []
        # Cleared: the next POST to the held path waits for release() before it is answered.
        self.gate = threading.Event()
        self.gate.set()
        self._held: str | None = None
        self.waiting = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.path == receiver._held and not receiver.gate.is_set():
                    receiver.waiting.set()
                    receiver.gate.wait(30)
                with receiver._lock:
                    script = receiver._scripts.get(self.path, [404])
                    status = script.pop(0) if len(script) > 1 else script[0]
                    headers = {name.lower(): value for name, value in self.headers.items()}
                    receiver.received.append(Received(self.path, headers, body, status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def hold(self, path: str) -> None:
        self._held = path
        self.waiting.clear()
        self.gate.clear()

    def release(self) -> None:
        self.gate.set()

    def on(self, path: str) -> list[Received]:
        with self._lock:
            return [one for one in self.received if one.path == path]

    @contextmanager
    def running(self) -> Iterator[Receiver]:
        self._thread.start()
        try:
            yield self
        finally:
            self.release()
            self._server.shutdown()
            self._server.server_close()
