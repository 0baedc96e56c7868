"""API keys and rate limits."""

from __future__ import annotations

from typing import Any

import peewee as pw
import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from app.api.context import RUNTIME_KEY
from app.apikeys import create_key, revoke_key
from app.runtime import Runtime
from tests.helpers import create_server, error_of, ok_data, password_server


def make_key(app: Quart, name: str = "ci") -> str:
    runtime: Runtime = app.extensions[RUNTIME_KEY]
    return runtime.database.call(create_key, name).key


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_the_api_is_open_until_a_key_exists_then_every_route_needs_one(
    app: Quart, client: Client, raw_db: pw.Database
) -> None:
    await ok_data(await client.get("/api/v1/servers"))  # no key yet: open, as the reference says
    key = make_key(app)
    assert key.startswith("nr_") and len(key) > 40

    for method, path in [("GET", "/api/v1/servers"), ("POST", "/api/v1/jobs"), ("GET", "/api/v1/system/info")]:
        response = await client.open(path, method=method, json={})
        assert await error_of(response, 401) == "A valid API key is required: send Authorization: Bearer <key>"
        assert response.headers["WWW-Authenticate"] == "Bearer"
    assert await error_of(await client.get("/api/v1/servers", headers=bearer("nr_wrong")), 401)
    assert await error_of(await client.get("/api/v1/servers", headers={"Authorization": key}), 401)

    created = await ok_data(await client.post("/api/v1/servers", json=password_server(), headers=bearer(key)), 201)
    assert created["name"] == "web-01"
    assert (await client.get("/health")).status_code == 200  # health stays open
    assert (await client.get("/")).status_code == 200

    stored = [row[0] for row in raw_db.execute_sql("SELECT key_hash FROM api_key").fetchall()]
    assert key not in str(stored) and len(stored[0]) == 64  # only a hash is kept

    runtime: Runtime = app.extensions[RUNTIME_KEY]
    runtime.database.call(revoke_key, key[:10])
    # The last key revoked: the API is open again (keys are how an operator turns authentication on).
    await ok_data(await client.get("/api/v1/servers"))
    second = make_key(app, "second")
    assert await error_of(await client.get("/api/v1/servers", headers=bearer(key)), 401)  # revoked stays out
    await ok_data(await client.get("/api/v1/servers", headers=bearer(second)))


@pytest.mark.parametrize("db_kind", ["sqlite"])
@pytest.mark.parametrize("settings_overrides", [{"rate_limit": 5, "job_rate_limit": 3}])
async def test_rate_limits_answer_429_with_retry_after_and_spare_other_clients(client: Client) -> None:
    def from_address(address: str) -> dict[str, Any]:
        return {"scope_base": {"client": (address, 40000)}}

    for _ in range(5):
        await ok_data(await client.get("/api/v1/servers", **from_address("10.1.1.1")))
    limited = await client.get("/api/v1/servers", **from_address("10.1.1.1"))
    assert "Too many requests" in await error_of(limited, 429)
    assert int(limited.headers["Retry-After"]) >= 1
    await ok_data(await client.get("/api/v1/servers", **from_address("10.2.2.2")))  # another client is unaffected
    assert (await client.get("/health", **from_address("10.1.1.1"))).status_code == 200  # not counted

    server = await create_server(client, password_server())
    job = {"server_id": server["id"], "command": "true"}
    for _ in range(3):
        await ok_data(await client.post("/api/v1/jobs", json=job, **from_address("10.3.3.3")), 201)
    refused = await client.post(
        "/api/v1/jobs/script", json={"server_id": server["id"], "script": "true"}, **from_address("10.3.3.3")
    )
    assert await error_of(refused, 429)  # submissions share one budget across the submitting routes
