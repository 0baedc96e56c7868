"""API keys and rate limits."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import peewee as pw
import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from app.api.context import RUNTIME_KEY
from app.apikeys import LIVE_KEYS_TTL_S, LiveKeys, create_key, revoke_key
from app.models import ApiKey
from app.runtime import Runtime
from app.settings import Settings
from tests.harness.cli import newremora
from tests.harness.wait import wait_until_async
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


class FrozenClock:
    """The key cache's clock, moved by hand: what a cached verdict is worth, without waiting for it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def frozen_keys(app: Quart) -> FrozenClock:
    clock = FrozenClock()
    runtime: Runtime = app.extensions[RUNTIME_KEY]
    runtime.live_keys = LiveKeys(clock=clock)
    return clock


def token_cli(settings: Settings, *args: str) -> str:
    """``newremora token ...`` in a process of its own, on the app's database: what an operator runs."""
    env = {"NEWREMORA_DATA_DIR": str(settings.data_dir), "NEWREMORA_DATABASE_URL": settings.effective_database_url}
    done = newremora("token", *args, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


async def test_keys_changed_by_another_process_count_within_the_cache_bound(
    app: Quart, client: Client, settings: Settings
) -> None:
    clock = frozen_keys(app)
    await ok_data(await client.get("/api/v1/servers"))  # no key: open, and that is cached too

    key = token_cli(settings, "create", "--name", "ops").strip().splitlines()[-1]
    await ok_data(await client.get("/api/v1/servers"))  # within the bound: still open (no database read)
    clock.now += LIVE_KEYS_TTL_S
    assert await error_of(await client.get("/api/v1/servers"), 401)  # the bound reached: closed
    await ok_data(await client.get("/api/v1/servers", headers=bearer(key)))

    other = make_key(app, "other")  # made here: counts at once (the cache is read again now)
    await ok_data(await client.get("/api/v1/servers", headers=bearer(other)))
    token_cli(settings, "revoke", key[:10])
    clock.now += LIVE_KEYS_TTL_S / 2
    await ok_data(await client.get("/api/v1/servers", headers=bearer(key)))  # within the bound
    clock.now += LIVE_KEYS_TTL_S / 2
    assert await error_of(await client.get("/api/v1/servers", headers=bearer(key)), 401)
    await ok_data(await client.get("/api/v1/servers", headers=bearer(other)))


async def test_keys_changed_by_this_process_count_at_once(app: Quart, client: Client) -> None:
    frozen_keys(app)  # the clock never moves: only the change itself can refresh the cache
    await ok_data(await client.get("/api/v1/servers"))
    first = make_key(app, "first")
    assert await error_of(await client.get("/api/v1/servers"), 401)
    second = make_key(app, "second")
    await ok_data(await client.get("/api/v1/servers", headers=bearer(first)))

    runtime: Runtime = app.extensions[RUNTIME_KEY]
    runtime.database.call(revoke_key, first[:10])
    assert await error_of(await client.get("/api/v1/servers", headers=bearer(first)), 401)
    await ok_data(await client.get("/api/v1/servers", headers=bearer(second)))
    runtime.database.call(revoke_key, second[:10])
    await ok_data(await client.get("/api/v1/servers"))  # the last one revoked: open again


async def test_a_real_revoke_by_the_cli_is_refused_soon_and_keys_are_never_logged(
    app: Quart, client: Client, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    key, other = make_key(app, "ci"), make_key(app, "other")
    await ok_data(await client.get("/api/v1/servers", headers=bearer(key)))
    await ok_data(await client.get("/api/v1/servers", headers=bearer(key)))
    runtime: Runtime = app.extensions[RUNTIME_KEY]

    def last_used() -> Any:
        return runtime.database.call(lambda: ApiKey.get(ApiKey.prefix == key[:10]).last_used_at)

    first_use = last_used()
    assert first_use is not None
    for _ in range(5):
        await ok_data(await client.get("/api/v1/servers", headers=bearer(key)))
    assert last_used() == first_use  # written once a minute, not per request

    token_cli(settings, "revoke", key[:10])
    response = await wait_until_async(  # the bound is LIVE_KEYS_TTL_S; the timeout only ends a broken test
        lambda: client.get("/api/v1/servers", headers=bearer(key)),
        30,
        "a key revoked by another process to be refused",
        done=lambda answer: answer.status_code != 200,
    )
    assert await error_of(response, 401)
    await ok_data(await client.get("/api/v1/servers", headers=bearer(other)))
    stream = await client.get(f"/api/v1/jobs/{uuid.uuid4()}/stream?access_token={other}")
    assert await error_of(stream, 404)  # let in by the query string key: the job does not exist
    assert key not in caplog.text and other not in caplog.text
