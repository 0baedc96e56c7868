"""Client addresses behind (and not behind) proxies, allowed hosts, the cross-site guard and CORS preflights:
the requests of issue #17, against the app with its real database."""

from __future__ import annotations

import ipaddress
import logging
from typing import Any

import peewee as pw
import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from tests.helpers import create_server, error_of, ok_data, password_server
from tests.integration.test_access import bearer, make_key
from tests.integration.test_servers_api import upload

EVIL = "http://evil.example"
PAGE = "http://127.0.0.1:9999"
PROXY = "10.0.0.2"


def peer(address: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    return {"scope_base": {"client": (address, 40000)}, "headers": headers or {}}


@pytest.mark.parametrize("db_kind", ["sqlite"])
@pytest.mark.parametrize(
    "settings_overrides",
    [{"rate_limit": 20, "trusted_proxies": (ipaddress.ip_network("10.0.0.0/24"),)}],
)
async def test_the_client_address_is_the_peer_unless_a_trusted_proxy_forwards_it(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    # 30 requests, 30 different X-Forwarded-For from one untrusted peer: one client, limited after 20.
    statuses = [
        (await client.get("/api/v1/servers", **peer("192.0.2.9", {"X-Forwarded-For": f"198.51.100.{i}"}))).status_code
        for i in range(30)
    ]
    assert statuses == [200] * 20 + [429] * 10

    # Claiming to be 127.0.0.1 spends the claimer's budget, not the real local client's.
    for _ in range(20):
        await ok_data(await client.get("/api/v1/servers", **peer("192.0.2.10", {"X-Forwarded-For": "127.0.0.1"})))
    await ok_data(await client.get("/api/v1/servers", **peer("127.0.0.1")))

    # Through the trusted proxy: the rightmost untrusted entry is the client (the left one is the client's own
    # claim); another client behind the same proxy keeps its budget.
    caplog.set_level(logging.INFO, logger="newremora.access")
    forwarded = {"X-Forwarded-For": "127.0.0.1, 203.0.113.7, 10.0.0.3"}
    for _ in range(20):
        await ok_data(await client.get("/api/v1/servers", **peer(PROXY, forwarded)))
    assert await error_of(await client.get("/api/v1/servers", **peer(PROXY, forwarded)), 429)
    await ok_data(await client.get("/api/v1/servers", **peer(PROXY, {"X-Forwarded-For": "203.0.113.8"})))
    await ok_data(await client.get("/api/v1/servers", **peer("127.0.0.1")))  # never charged for 127.0.0.1
    logged = [getattr(record, "client", None) for record in caplog.records]
    assert logged.count("203.0.113.7") == 21 and logged[-2:] == ["203.0.113.8", "127.0.0.1"]

    # X-Forwarded-Proto from the proxy makes https://localhost the request's own origin; from anyone else, not.
    https = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9", "Origin": "https://localhost"}
    await ok_data(await client.post("/api/v1/servers", json=password_server("via-tls"), **peer(PROXY, https)), 201)
    assert await error_of(
        await client.post("/api/v1/servers", json=password_server("spoofed"), **peer("192.0.2.11", https)), 403
    )


async def test_foreign_hosts_and_cross_site_requests_change_nothing(client: Client, raw_db: pw.Database) -> None:
    server = await create_server(client, password_server())  # JSON, no Origin: the CLI, curl
    job = {"server_id": server["id"], "command": "touch /tmp/should-not-run"}

    def jobs() -> int:
        return int(raw_db.execute_sql("SELECT COUNT(*) FROM job").fetchone()[0])

    rebound = await client.post("/api/v1/jobs", json=job, headers={"Host": "attacker.example"})
    assert "NEWREMORA_ALLOWED_HOSTS" in await error_of(rebound, 400)
    assert await error_of(await client.get("/", headers={"Host": "attacker.example:8080"}), 400)
    assert (await client.get("/health", headers={"Host": "attacker.example"})).status_code == 200  # probes
    assert await error_of(await client.post("/api/v1/jobs", json=job, headers={"Origin": EVIL}), 403)
    assert await error_of(await client.post("/api/v1/jobs", json=job, headers={"Referer": f"{EVIL}/x"}), 403)
    assert await error_of(await client.post("/api/v1/jobs", json=job, headers={"Sec-Fetch-Site": "cross-site"}), 403)
    assert await error_of(await client.post("/api/v1/jobs", json=job, headers={"Origin": "null"}), 403)
    assert jobs() == 0

    # What a browser sends cross-site without a preflight: text/plain, a form, a multipart form.
    def simple_bodies() -> list[dict[str, Any]]:
        return [
            {"data": "{}", "headers": {"Content-Type": "text/plain", "Origin": EVIL}},
            {"form": {"server_ids": server["id"]}, "headers": {"Origin": EVIL}},
            {"files": upload("pem_file", "x.pem", b"x"), "headers": {"Origin": EVIL}},
        ]

    for path in ("/api/v1/servers/check-status", f"/api/v1/servers/{server['id']}/test", "/api/v1/servers/upload-pem"):
        for simple in simple_bodies():
            assert "another site" in await error_of(await client.post(path, **simple), 403)
    assert await error_of(await client.delete(f"/api/v1/servers/{server['id']}", headers={"Origin": EVIL}), 403)
    unchanged = await ok_data(await client.get(f"/api/v1/servers/{server['id']}"))
    assert unchanged["last_checked_at"] is None and unchanged["name"] == "web-01"

    # The page (same origin, Origin sent as browsers do) and body-less requests without Origin still work.
    created = await ok_data(await client.post("/api/v1/jobs", json=job, headers={"Origin": "http://localhost"}), 201)
    job_id = created["id"] if "id" in created else created["jobs"][0]["id"]
    await ok_data(await client.post(f"/api/v1/jobs/{job_id}/cancel"))
    assert jobs() == 1


@pytest.mark.parametrize("db_kind", ["sqlite"])
@pytest.mark.parametrize("settings_overrides", [{"rate_limit": 3, "cors_origins": (PAGE,)}])
async def test_preflights_answer_methods_and_headers_and_are_never_limited(app: Quart, client: Client) -> None:
    asked = {"Origin": PAGE, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    for _ in range(10):
        preflight = await client.options("/api/v1/jobs", headers=asked)
        assert preflight.status_code == 204
        assert preflight.headers["Access-Control-Allow-Origin"] == PAGE
        assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
        allowed_headers = preflight.headers["Access-Control-Allow-Headers"].lower()
        assert {"authorization", "content-type", "last-event-id"} <= set(allowed_headers.replace(" ", "").split(","))
        assert int(preflight.headers["Access-Control-Max-Age"]) > 0 and "Origin" in preflight.headers["Vary"]
    foreign = await client.options("/api/v1/jobs", headers={**asked, "Origin": EVIL})
    assert await error_of(foreign, 403) and "Access-Control-Allow-Origin" not in foreign.headers

    key = make_key(app)  # the page sends Authorization: allowed by the preflight, and a job is created
    created = await client.post("/api/v1/servers", json=password_server(), headers={"Origin": PAGE, **bearer(key)})
    assert created.headers["Access-Control-Allow-Origin"] == PAGE
    assert "X-Request-ID" in created.headers["Access-Control-Expose-Headers"]
    server_id = (await ok_data(created, 201))["id"]
    submitted = await client.post(
        "/api/v1/jobs", json={"server_id": server_id, "command": "true"}, headers={"Origin": PAGE, **bearer(key)}
    )
    await ok_data(submitted, 201)
    await ok_data(await client.get("/api/v1/jobs", headers={"Origin": PAGE, **bearer(key)}))  # the third
    limited = await client.get("/api/v1/jobs", headers={"Origin": PAGE, **bearer(key)})
    assert await error_of(limited, 429) and limited.headers["Access-Control-Allow-Origin"] == PAGE  # readable
    assert (await client.options("/api/v1/jobs", headers=asked)).status_code == 204  # still, after the 429
