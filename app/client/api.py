"""The service's HTTP API as the client uses it: the envelope unwrapped, errors as ``ApiError``."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final

import httpx

from app.client.config import ClientConfig
from app.client.errors import ApiError, ServiceUnreachable
from app.client.sse import Event, parse_events

# Reading waits long enough for a connectivity test through Ansible on a loaded machine; a stream gets a
# keep-alive at least every 15 s, so 60 s of silence means the connection is gone.
REQUEST_TIMEOUT: Final = httpx.Timeout(120.0, connect=10.0)
STREAM_TIMEOUT: Final = httpx.Timeout(60.0, connect=10.0)


def looks_like_id(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


class Api:
    def __init__(self, config: ClientConfig) -> None:
        headers = {"User-Agent": "newremora-cli", "Accept": "application/json"}
        if config.token is not None:
            headers["Authorization"] = f"Bearer {config.token.reveal()}"
        # Redirects are not followed: the key must not travel to wherever a redirect points. The usual
        # HTTPS_PROXY / NO_PROXY / SSL_CERT_FILE variables are honoured, as curl does.
        self.http = httpx.Client(base_url=config.url, headers=headers, timeout=REQUEST_TIMEOUT)
        self.url = config.url

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """The ``data`` of the answer; an error envelope (or no answer) raises."""
        try:
            response = self.http.request(method, f"/api/v1{path}", **kwargs)
        except httpx.TransportError as exc:
            raise ServiceUnreachable(f"cannot reach the service at {self.url}: {_reason(exc)}") from exc
        return _data(response)

    # ----- servers

    def servers(self) -> list[dict[str, Any]]:
        return list(self.call("GET", "/servers")["servers"])

    def server(self, name_or_id: str) -> dict[str, Any]:
        """A server by id, or else by its (unique) name."""
        if looks_like_id(name_or_id):
            try:
                return dict(self.call("GET", f"/servers/{name_or_id}"))
            except ApiError as exc:
                if exc.status != 404:
                    raise
        for server in self.servers():
            if server["name"] == name_or_id:
                return server
        raise ApiError(404, f"no server named or with id {name_or_id!r}")

    # ----- jobs

    def job(self, job_id: str) -> dict[str, Any]:
        return dict(self.call("GET", f"/jobs/{job_id}"))

    @contextmanager
    def job_events(self, job_id: str, after: int) -> Iterator[Iterator[Event]]:
        """The job's event stream, resuming after output chunk ``after``."""
        headers = {"Accept": "text/event-stream", "Last-Event-ID": str(after)}
        try:
            with self.http.stream(
                "GET", f"/api/v1/jobs/{job_id}/stream", headers=headers, timeout=STREAM_TIMEOUT
            ) as response:
                if response.status_code != 200:
                    response.read()
                    _data(response)
                yield parse_events(response.iter_lines())
        except httpx.TransportError as exc:
            raise ServiceUnreachable(f"lost the stream from {self.url}: {_reason(exc)}") from exc


def _reason(exc: httpx.TransportError) -> str:
    return str(exc) or type(exc).__name__


def _data(response: httpx.Response) -> Any:
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.is_success and isinstance(body, dict) and body.get("success") is True:
        return body["data"]
    message = body.get("error") if isinstance(body, dict) else None
    if not message:
        message = f"HTTP {response.status_code} {response.reason_phrase}".strip()
    if response.status_code == 401 and "NEWREMORA_TOKEN" not in message:
        message += " (give the key in NEWREMORA_TOKEN, NEWREMORA_TOKEN_FILE or --token-file)"
    raise ApiError(response.status_code, message)
