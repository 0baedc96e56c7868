"""The ASGI layer around the app: a body too large is refused from its Content-Length before any work (and a query
string that is not UTF-8, which Quart cannot decode), and a response never ends while the client's body is still
arriving.

A client that sends its whole body before reading (most do) got a connection reset instead of the 413: the
server answered and closed while unread bytes sat in its receive buffer, and a close over unread data is a TCP
RST, which discards the answer in flight. So after the app is done, the rest of an unread body is read and
dropped, up to a bound in bytes and in time; beyond either, the connection closes as before.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Final

from hypercorn.typing import (
    ASGIReceiveCallable,
    ASGIReceiveEvent,
    ASGISendCallable,
    ASGISendEvent,
    HTTPScope,
    Scope,
)

from app.api.context import request_id_from
from app.api.errors import HTTP_MESSAGES
from app.logs import request_id_var
from app.schemas.common import ErrorEnvelope

log = logging.getLogger("newremora.access")

AsgiApp = Callable[[Scope, ASGIReceiveCallable, ASGISendCallable], Awaitable[None]]

# Past these, a client still sending is not waited for (its connection closes, perhaps with a reset).
DRAIN_MAX_BYTES: Final = 64 * 1024 * 1024
DRAIN_MAX_SECONDS: Final = 10.0


def _header(scope: HTTPScope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _declared_length(scope: HTTPScope) -> int | None:
    value = _header(scope, b"content-length")
    return int(value) if value is not None and value.strip().isascii() and value.strip().isdigit() else None


class BodyGuard:
    def __init__(self, app: AsgiApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        inbox = _Inbox(receive)

        async def draining_send(message: ASGISendEvent) -> None:
            # Hypercorn closes the connection as soon as the last part of a response is sent: drain before it.
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                await inbox.drain()
            await send(message)

        declared = _declared_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            await _refuse(scope, draining_send, 413, HTTP_MESSAGES[413])
        elif not _is_utf8(scope["query_string"]):
            # Quart decodes the query string as UTF-8 before its error handling exists (HTTP/1.1 clients cannot
            # send such bytes, h11 refuses them; an HTTP/2 one can).
            await _refuse(scope, draining_send, 400, "query string: not valid UTF-8 (percent-encode its bytes)")
        else:
            await self.app(scope, inbox.receive, draining_send)


class _Inbox:
    """The request's side of the connection: knows when the client's body has ended, and reads the rest of it."""

    def __init__(self, receive: ASGIReceiveCallable) -> None:
        self._receive = receive
        self._ended = asyncio.Event()
        self._received = 0

    async def receive(self) -> ASGIReceiveEvent:
        message = await self._receive()
        if message["type"] == "http.request":
            self._received += len(message.get("body", b""))
            if not message.get("more_body", False):
                self._ended.set()
        elif message["type"] == "http.disconnect":
            self._ended.set()
        return message

    async def drain(self) -> None:
        """Until the body ends, within the bounds. The app's own reader (Quart's) may still be reading too: the
        end is awaited as an event, whoever reads the last part."""
        try:
            async with asyncio.timeout(DRAIN_MAX_SECONDS):
                while not self._ended.is_set() and self._received <= DRAIN_MAX_BYTES:
                    reading = asyncio.ensure_future(self.receive())
                    ended = asyncio.ensure_future(self._ended.wait())
                    try:
                        await asyncio.wait({reading, ended}, return_when=asyncio.FIRST_COMPLETED)
                    finally:
                        for task in (reading, ended):
                            task.cancel()
        except TimeoutError:
            pass


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


async def _refuse(scope: HTTPScope, send: ASGISendCallable, status: int, message: str) -> None:
    """An answer in the error envelope, as the app would give it, without running the app."""
    request_id = request_id_from(_header(scope, b"x-request-id") or "")
    request_id_var.set(request_id)  # this request's task: its access line carries the id
    envelope = ErrorEnvelope(error=message, request_id=request_id).model_dump(mode="json")
    body = json.dumps(envelope, separators=(",", ":")).encode()
    start: ASGISendEvent = {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"x-request-id", request_id.encode()),
        ],
        "trailers": False,
    }
    await send(start)
    await send({"type": "http.response.body", "body": body, "more_body": False})
    fields = {"method": scope["method"], "path": scope["path"], "status": status, "duration_ms": 0.0, "job_id": None}
    log.info("%s %s -> %s before the app: %s", scope["method"], scope["path"], status, message, extra=fields)
