"""Small helpers shared by the API tests."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

from quart.typing import TestClientProtocol as Client

RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


async def json_of(response: Any) -> dict[str, Any]:
    body = await response.get_json()
    assert isinstance(body, dict), body
    return body


async def ok_data(response: Any, status: int = 200) -> Any:
    """The ``data`` of a success envelope, after checking the envelope itself."""
    body = await json_of(response)
    assert response.status_code == status, body
    assert body["success"] is True
    assert body["error"] is None
    assert RFC3339_UTC.match(body["timestamp"])
    return body["data"]


async def error_of(response: Any, status: int) -> str:
    """The message of an error envelope, after checking its shape and the request id header."""
    body = await json_of(response)
    assert response.status_code == status, body
    assert body["success"] is False
    assert body["data"] is None
    assert body["request_id"] == response.headers["X-Request-ID"]
    assert RFC3339_UTC.match(body["timestamp"])
    assert isinstance(body["error"], str) and body["error"]
    return str(body["error"])


def password_server(name: str = "web-01", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": name,
        "hostname": "127.0.0.1",
        "port": 22,
        "user": "deploy",
        "auth_type": "password",
        "password": "correct horse battery staple",
    }
    body.update(overrides)
    return body


def make_key(directory: Path, name: str, passphrase: str = "", key_type: str = "ed25519") -> str:
    path = directory / name
    subprocess.run(
        ["ssh-keygen", "-q", "-t", key_type, "-N", passphrase, "-C", "", "-f", str(path)], check=True, timeout=30
    )
    return path.read_text()


async def create_server(client: Client, body: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = await ok_data(await client.post("/api/v1/servers", json=body), 201)
    return data
