"""``GET /health`` answers for the database, and the service rides out a PostgreSQL restart by itself."""

from __future__ import annotations

import pytest
from quart.typing import TestClientProtocol as Client

from tests.harness.postgres import PostgresCluster
from tests.helpers import RFC3339_UTC, error_of, json_of, ok_data, password_server


async def test_health_is_the_reference_object_without_envelope(client: Client) -> None:
    response = await client.get("/health")
    body = await json_of(response)
    assert response.status_code == 200
    assert set(body) == {"status", "timestamp", "database", "queue", "database_error", "workers"}
    assert (body["status"], body["database"], body["queue"]) == ("healthy", "connected", "connected")
    assert body["database_error"] is None
    assert body["workers"] is None  # no worker threads in this app
    assert RFC3339_UTC.match(body["timestamp"])


@pytest.mark.slow
@pytest.mark.parametrize("db_kind", ["postgresql"])
async def test_database_outage_gives_503_and_recovery_needs_no_restart(
    client: Client, pg_cluster: PostgresCluster
) -> None:
    await ok_data(await client.post("/api/v1/servers", json=password_server("before")), 201)
    pg_cluster.stop_server()
    try:
        down = await client.get("/health")
        body = await json_of(down)
        assert down.status_code == 503
        assert (body["status"], body["database"]) == ("unhealthy", "disconnected")
        assert body["database_error"] == "the database does not answer"
        assert await error_of(await client.get("/api/v1/servers"), 503) == "Database unavailable"
        refused = await client.post("/api/v1/servers", json=password_server("during"))
        assert await error_of(refused, 503) == "Database unavailable"
    finally:
        pg_cluster.start_server()
    assert (await client.get("/health")).status_code == 200
    for _ in range(4):  # fill the pool with connections that the next restart will kill
        await ok_data(await client.get("/api/v1/servers"))

    # A restart nobody watched (no request while it was down): the very first requests afterwards succeed,
    # because dead pooled connections are replaced on checkout.
    pg_cluster.restart()
    listed = await ok_data(await client.get("/api/v1/servers"))
    assert [s["name"] for s in listed["servers"]] == ["before"]
    assert (await client.get("/health")).status_code == 200
