"""Every response carries X-Request-ID, and the same id is in the log line of the request."""

from __future__ import annotations

import logging

import pytest
from quart.typing import TestClientProtocol as Client

from app.logs import RequestIdFilter
from tests.helpers import error_of


@pytest.mark.parametrize("db_kind", ["sqlite"])
async def test_request_ids_are_kept_or_made_and_logged(client: Client, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="newremora.access")
    caplog.handler.addFilter(RequestIdFilter())  # what the service's log handler does
    kept = await client.get("/api/v1/servers", headers={"X-Request-ID": "deploy-42.a:b"})
    assert kept.headers["X-Request-ID"] == "deploy-42.a:b"

    for insane in ("has space", "x" * 200, "semi;colon", ""):
        response = await client.get("/api/v1/servers", headers={"X-Request-ID": insane})
        made = response.headers["X-Request-ID"]
        assert made != insane and made.startswith("req-")

    missing = await client.get("/api/v1/servers/not-a-uuid", headers={"X-Request-ID": "trace-404"})
    assert await error_of(missing, 404) == "Server not found"  # error_of also checks body id == header id

    access_lines = [r for r in caplog.records if r.name == "newremora.access"]
    by_id = {getattr(r, "request_id", None): r.getMessage() for r in access_lines}
    assert "GET /api/v1/servers -> 200" in by_id["deploy-42.a:b"]
    # The text line names the client too (JSON lines carry it as the "client" field).
    assert by_id["deploy-42.a:b"].endswith(f" from {access_lines[0].client}")  # type: ignore[attr-defined]
    assert "GET /api/v1/servers/not-a-uuid -> 404" in by_id["trace-404"]
