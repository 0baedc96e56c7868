"""The Jobs API without execution (no worker threads): validation, listing, cancel, duplicate, figures."""

from __future__ import annotations

import uuid
from typing import Any

import peewee as pw
import pytest
from quart.typing import TestClientProtocol as Client

from tests.helpers import create_server, error_of, ok_data, password_server


def count(raw_db: pw.Database, table: str) -> int:
    return int(raw_db.execute_sql(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


async def new_job(client: Client, server_id: str, command: str = "uptime", **extra: Any) -> dict[str, Any]:
    body = {"server_id": server_id, "command": command, **extra}
    data: dict[str, Any] = await ok_data(await client.post("/api/v1/jobs", json=body), 201)
    return data


async def test_submit_returns_the_queued_job(client: Client) -> None:
    server = await create_server(client, password_server())
    created = await new_job(client, server["id"], "ls", args="-la /var/log", timeout=60)
    assert created["status"] == "queued"
    assert (created["command"], created["args"], created["timeout"], created["priority"]) == (
        "ls",
        "-la /var/log",
        60,
        5,
    )
    assert created["server_id"] == server["id"]
    assert created["server"] == {"id": server["id"], "name": "web-01", "hostname": "127.0.0.1"}
    assert created["started_at"] is None and created["exit_code"] is None
    defaults = await new_job(client, server["id"])
    assert defaults["timeout"] == 300 and defaults["args"] is None

    script = await ok_data(
        await client.post("/api/v1/jobs/script", json={"server_id": server["id"], "script": "echo hi\n"}), 201
    )
    assert (script["kind"], script["shell"], script["script"], script["command"]) == (
        "script",
        "/bin/bash",
        "echo hi\n",
        None,
    )

    detail = await ok_data(await client.get(f"/api/v1/jobs/{created['id']}"))
    assert (detail["output"], detail["stdout"], detail["stderr"]) == ("", "", "")
    for part in ("logs", "stdout", "stderr"):
        response = await client.get(f"/api/v1/jobs/{created['id']}/{part}")
        assert response.status_code == 200 and await response.get_data(as_text=True) == ""


BAD_JOBS: list[tuple[str, dict[str, Any], int, str]] = [
    ("/api/v1/jobs", {"command": "ls"}, 400, "server_id: is required"),
    ("/api/v1/jobs", {"server_id": "{server}"}, 400, "command: is required"),
    ("/api/v1/jobs", {"server_id": "{server}", "command": ""}, 400, "command:"),
    ("/api/v1/jobs", {"server_id": "{server}", "command": "   "}, 400, "command: must not be blank"),
    ("/api/v1/jobs", {"server_id": "{server}", "command": "ls", "timeout": 0}, 400, "timeout:"),
    ("/api/v1/jobs", {"server_id": "{server}", "command": "ls", "timeout": "60"}, 400, "timeout:"),
    ("/api/v1/jobs", {"server_id": "{server}", "command": "ls", "timeout": 10**9}, 400, "timeout: at most"),
    ("/api/v1/jobs", {"server_id": "{server}", "command": "ls", "priority": 11}, 400, "priority:"),
    ("/api/v1/jobs", {"server_id": "{server}", "command": "a\x00b"}, 400, "NUL"),
    ("/api/v1/jobs", {"server_id": "{server}", "command": "x" * 70000}, 400, "command:"),
    ("/api/v1/jobs", {"server_id": "{server}", "command": "ls", "sudo": True}, 400, "sudo: is not a known field"),
    ("/api/v1/jobs", {"server_id": "not-a-uuid", "command": "ls"}, 404, "Server not found"),
    ("/api/v1/jobs", {"server_id": str(uuid.uuid4()), "command": "ls"}, 404, "Server not found"),
    ("/api/v1/jobs", {"server_id": "{inactive}", "command": "ls"}, 409, "inactive"),
    ("/api/v1/jobs/script", {"server_id": "{server}", "script": ""}, 400, "script:"),
    ("/api/v1/jobs/script", {"server_id": "{server}", "script": "x", "shell": "bash; rm -rf /"}, 400, "shell:"),
    ("/api/v1/jobs/script", {"server_id": "{server}", "script": "x", "shell": "relative/sh"}, 400, "shell:"),
]


@pytest.mark.parametrize(("path", "body", "status", "message"), BAD_JOBS)
async def test_bad_submissions_are_refused_and_store_nothing(
    client: Client, raw_db: pw.Database, path: str, body: dict[str, Any], status: int, message: str
) -> None:
    server = await create_server(client, password_server("active"))
    inactive = await create_server(client, password_server("inactive", is_active=False))
    filled = {
        k: v.format(server=server["id"], inactive=inactive["id"]) if isinstance(v, str) and "{" in v else v
        for k, v in body.items()
    }
    assert message in await error_of(await client.post(path, json=filled), status)
    assert count(raw_db, "job") == 0


async def test_listing_filters_searches_sorts_and_pages(client: Client) -> None:
    one = await create_server(client, password_server("one"))
    two = await create_server(client, password_server("two"))
    made = [
        await new_job(client, one["id"], "echo", args="100% done"),
        await new_job(client, one["id"], "echo", args="snake_case"),
        await new_job(client, two["id"], "grep", args="ÉTÉ /etc/hosts"),
        await new_job(client, two["id"], "Uptime"),
    ]
    script = await ok_data(
        await client.post("/api/v1/jobs/script", json={"server_id": one["id"], "script": "pg_dump production"}), 201
    )
    await ok_data(await client.post(f"/api/v1/jobs/{made[3]['id']}/cancel"))

    async def listing(query: str) -> dict[str, Any]:
        data: dict[str, Any] = await ok_data(await client.get(f"/api/v1/jobs?{query}"))
        return data

    everything = await listing("")
    assert [j["id"] for j in everything["jobs"]] == [script["id"], *[j["id"] for j in reversed(made)]]
    assert everything["pagination"] == {
        "page": 1,
        "limit": 20,
        "total": 5,
        "total_pages": 1,
        "has_next": False,
        "has_prev": False,
    }
    oldest_first = await listing("sort_by=created_at&sort_order=asc&limit=2&page=2")
    assert [j["id"] for j in oldest_first["jobs"]] == [made[2]["id"], made[3]["id"]]
    assert oldest_first["pagination"] == {
        "page": 2,
        "limit": 2,
        "total": 5,
        "total_pages": 3,
        "has_next": True,
        "has_prev": True,
    }
    assert (await listing("page=9"))["jobs"] == []

    assert {j["id"] for j in (await listing(f"server_id={two['id']}"))["jobs"]} == {made[2]["id"], made[3]["id"]}
    assert [j["id"] for j in (await listing("status=canceled"))["jobs"]] == [made[3]["id"]]
    assert (await listing(f"server_id={uuid.uuid4()}"))["jobs"] == []

    async def found(term: str) -> set[str]:
        from urllib.parse import quote

        return {j["id"] for j in (await listing(f"search={quote(term)}"))["jobs"]}

    assert await found("uptime") == {made[3]["id"]}  # case-insensitive
    assert await found("%") == {made[0]["id"]}  # % is a character, not a wildcard
    assert await found("e_c") == {made[1]["id"]}  # so is _
    assert await found("été") == {made[2]["id"]}  # beyond ASCII too, on both databases
    assert await found("HOSTS") == {made[2]["id"]}  # an ASCII search in text beyond ASCII
    assert await found("PRODUCTION") == {script["id"]}  # scripts are searched
    assert await found("nothing like this") == set()


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("limit=101", "limit:"),
        ("limit=0", "limit:"),
        ("page=0", "page:"),
        ("page=x", "page:"),
        ("status=done", "status:"),
        ("sort_by=name", "sort_by:"),
        ("sort_order=up", "sort_order:"),
        ("colour=red", "colour:"),
    ],
)
async def test_bad_list_queries_are_400(client: Client, query: str, message: str) -> None:
    assert message in await error_of(await client.get(f"/api/v1/jobs?{query}"), 400)


async def test_unknown_jobs_are_404(client: Client) -> None:
    for path in ("/api/v1/jobs/x", f"/api/v1/jobs/{uuid.uuid4()}", "/api/v1/jobs/x/stdout", "/api/v1/jobs/x/logs"):
        assert await error_of(await client.get(path), 404) == "Job not found"
    for path in (f"/api/v1/jobs/{uuid.uuid4()}/cancel", "/api/v1/jobs/1/duplicate"):
        assert await error_of(await client.post(path), 404) == "Job not found"


async def test_cancel_of_a_queued_job_is_immediate_and_final(client: Client) -> None:
    server = await create_server(client, password_server())
    queued = await new_job(client, server["id"])
    canceled = await ok_data(await client.post(f"/api/v1/jobs/{queued['id']}/cancel"), 200)
    assert canceled["status"] == "canceled" and canceled["canceled_at"]
    assert "already canceled" in await error_of(await client.post(f"/api/v1/jobs/{queued['id']}/cancel"), 409)
    detail = await ok_data(await client.get(f"/api/v1/jobs/{queued['id']}"))
    assert (detail["status"], detail["started_at"]) == ("canceled", None)


async def test_duplicate_copies_and_applies_overrides(client: Client, raw_db: pw.Database) -> None:
    one = await create_server(client, password_server("one"))
    two = await create_server(client, password_server("two"))
    original = await new_job(client, one["id"], "ls", args="-la", timeout=120, priority=9)

    same = await ok_data(await client.post(f"/api/v1/jobs/{original['id']}/duplicate"), 201)
    assert same["original_job"] == {"id": original["id"], "kind": "command", "command": "ls"}
    copy = same["new_job"]
    assert copy["id"] != original["id"] and copy["status"] == "queued"
    for field in ("command", "args", "timeout", "priority", "server_id"):
        assert copy[field] == original[field]

    moved = await ok_data(
        await client.post(f"/api/v1/jobs/{original['id']}/duplicate", json={"server_id": two["id"], "timeout": 600}),
        201,
    )
    assert (moved["new_job"]["server_id"], moved["new_job"]["timeout"], moved["new_job"]["args"]) == (
        two["id"],
        600,
        "-la",
    )

    empty_body = await client.post(
        f"/api/v1/jobs/{original['id']}/duplicate", data=b"", headers={"Content-Type": "application/json"}
    )
    assert (await ok_data(empty_body, 201))["new_job"]["command"] == "ls"

    before = count(raw_db, "job")
    for body, message in [({"timeout": -1}, "timeout:"), ({"script": "x"}, "script:"), ({"nope": 1}, "nope:")]:
        assert message in await error_of(await client.post(f"/api/v1/jobs/{original['id']}/duplicate", json=body), 400)
    bad_server = await client.post(f"/api/v1/jobs/{original['id']}/duplicate", json={"server_id": str(uuid.uuid4())})
    assert await error_of(bad_server, 404) == "Server not found"
    assert count(raw_db, "job") == before


async def test_system_info_counts_from_the_database(client: Client) -> None:
    empty = await ok_data(await client.get("/api/v1/system/info"))
    assert (empty["total_jobs"], empty["success_rate"]) == (0, 0.0)
    server = await create_server(client, password_server())
    for _ in range(3):
        await new_job(client, server["id"])
    queued = await new_job(client, server["id"])
    await ok_data(await client.post(f"/api/v1/jobs/{queued['id']}/cancel"))
    info = await ok_data(await client.get("/api/v1/system/info"))
    assert {k: info[k] for k in ("total_servers", "total_jobs", "queued_jobs", "running_jobs", "canceled_jobs")} == {
        "total_servers": 1,
        "total_jobs": 4,
        "queued_jobs": 3,
        "running_jobs": 0,
        "canceled_jobs": 1,
    }
    enhanced = await ok_data(await client.get("/api/v1/system/enhanced"))
    assert enhanced["worker_status"] == {"active_workers": 0, "total_capacity": 0, "running_jobs": 0, "workers": []}
    assert (enhanced["unchecked_servers"], enhanced["jobs_per_hour"], enhanced["average_job_duration"]) == (1, 1, 0.0)
