"""How many servers one submission may name in ``server_ids``: 1-1000 for command and script jobs, 1-500 for
playbook jobs (docs/inventories.md, docs/decisions.md). Accepted exactly at the limit; one above is a 400 in the
error envelope, and nothing is created."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import peewee as pw
import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from app.api.context import RUNTIME_KEY
from app.fields import new_id
from app.models import Server
from app.runtime import Runtime
from tests.helpers import error_of, ok_data

PLAYBOOKS = Path(__file__).resolve().parents[1] / "playbooks"

# The documented numbers, written out here rather than imported: the test holds the code to the documents.
LIMITS = [
    pytest.param("/api/v1/jobs", {"command": "uptime"}, 1000, id="command"),
    pytest.param("/api/v1/jobs/script", {"script": "uptime"}, 1000, id="script"),
    pytest.param("/api/v1/jobs/playbook", {"playbook": "echo_vars.yml"}, 500, id="playbook"),
]


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"playbook_dir": PLAYBOOKS}


def count_jobs(raw_db: pw.Database) -> int:
    return int(raw_db.execute_sql("SELECT COUNT(*) FROM job").fetchone()[0])


def store_servers(app: Quart, how_many: int) -> list[str]:
    """Active servers, stored directly: a thousand of them through the API would only make the test slow."""
    runtime: Runtime = app.extensions[RUNTIME_KEY]
    rows = [
        {"id": new_id(), "name": f"limit-{n:04d}", "hostname": "127.0.0.1", "user": "deploy", "auth_type": "password"}
        for n in range(how_many)
    ]

    def store() -> None:
        with Server._meta.database.atomic():
            for start in range(0, len(rows), 200):
                Server.insert_many(rows[start : start + 200]).execute()

    runtime.database.call(store)
    return [row["id"] for row in rows]


@pytest.mark.parametrize(("path", "body", "limit"), LIMITS)
async def test_server_ids_are_accepted_up_to_the_limit_and_refused_one_above(
    app: Quart, client: Client, raw_db: pw.Database, path: str, body: dict[str, Any], limit: int
) -> None:
    server_ids = store_servers(app, limit + 1)

    response = await client.post(path, json={**body, "server_ids": server_ids})
    message = await error_of(response, 400)
    assert message.startswith("server_ids:") and f"at most {limit} items" in message
    assert count_jobs(raw_db) == 0

    created = await ok_data(await client.post(path, json={**body, "server_ids": server_ids[:limit]}), 201)
    assert created["count"] == limit and len(created["jobs"]) == limit
    assert {job["server_id"] for job in created["jobs"]} == set(server_ids[:limit])
    assert {job["batch_id"] for job in created["jobs"]} == {created["batch_id"]}
    assert count_jobs(raw_db) == limit


@pytest.mark.parametrize("db_kind", ["sqlite"])
async def test_the_limits_are_documented_in_openapi(client: Client) -> None:
    document = await (await client.get("/openapi.json")).get_json()

    def max_items(path: str) -> int:
        schema = document["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
        if "$ref" in schema:
            schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
        (listed,) = [option for option in schema["properties"]["server_ids"]["anyOf"] if option["type"] == "array"]
        return int(listed["maxItems"])

    assert [max_items(p) for p in ("/api/v1/jobs", "/api/v1/jobs/script", "/api/v1/jobs/playbook")] == [1000, 1000, 500]
