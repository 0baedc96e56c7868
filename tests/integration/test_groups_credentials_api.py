"""Credentials, groups and multi-server submissions through the API (no job runs here)."""

from __future__ import annotations

from pathlib import Path

import peewee as pw
from quart.typing import TestClientProtocol as Client

from tests.helpers import create_server, error_of, make_key, ok_data, password_server


def count(raw_db: pw.Database, table: str) -> int:
    return int(raw_db.execute_sql(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0])


async def test_credentials_are_shared_never_returned_and_not_deleted_while_used(
    client: Client, raw_db: pw.Database, tmp_path: Path
) -> None:
    key = make_key(tmp_path, "shared", passphrase="open sesame")
    body = {"name": "deploy", "private_key": key, "passphrase": "open sesame", "become_password": "sudo-secret-9"}
    created = await ok_data(await client.post("/api/v1/credentials", json=body), 201)
    assert created["has_private_key"] and created["has_passphrase"] and created["has_become_password"]
    assert not created["has_password"] and created["servers"] == 0
    for secret in ("open sesame", "sudo-secret-9", "PRIVATE KEY"):
        assert secret not in str(created)
    stored = raw_db.execute_sql("SELECT * FROM credential").fetchall()
    assert "sudo-secret-9" not in str(stored) and "open sesame" not in str(stored) and "PRIVATE KEY" not in str(stored)

    for bad, message in (
        ({"name": "empty"}, "a credential needs a password, a private_key or a become_password"),
        ({"name": "wrong", "private_key": key, "passphrase": "nope"}, "passphrase: it does not decrypt"),
        ({"name": "lonely", "password": "x", "passphrase": "y"}, "passphrase: only with a private_key"),
        ({"name": "deploy", "password": "x"}, "already exists"),
        ({"name": "typo", "pasword": "x"}, "pasword: is not a known field"),
    ):
        status = 409 if "exists" in message else 400
        assert message in await error_of(await client.post("/api/v1/credentials", json=bad), status)
    assert count(raw_db, "credential") == 1

    # Many servers use it, with no secret of their own; a server's own secret would win over it.
    for name in ("app-01", "app-02"):
        server = await create_server(
            client,
            {
                "name": name,
                "hostname": "10.0.0.1",
                "user": "deploy",
                "auth_type": "key",
                "credential_id": created["id"],
            },
        )
        assert server["credential_id"] == created["id"] and not server["has_private_key"]
    refused = {"name": "app-03", "hostname": "10.0.0.1", "user": "deploy", "auth_type": "password"}
    message = await error_of(
        await client.post("/api/v1/servers", json={**refused, "credential_id": created["id"]}), 400
    )
    assert "password: required when auth_type is 'password'" in message  # the credential holds no password
    unknown = {**refused, "credential_id": "00000000-0000-4000-8000-000000000000"}
    assert "credential_id: no credential" in await error_of(await client.post("/api/v1/servers", json=unknown), 400)

    listed = await ok_data(await client.get("/api/v1/credentials"))
    assert [(c["name"], c["servers"]) for c in listed["credentials"]] == [("deploy", 2)]
    in_use = await error_of(await client.delete(f"/api/v1/credentials/{created['id']}"), 409)
    assert "used by 2 server(s) (app-01, app-02)" in in_use
    assert count(raw_db, "credential") == 1
    await error_of(await client.get("/api/v1/credentials/not-a-uuid"), 404)

    # Rotation: a new secret, same servers.
    message = await error_of(await client.put(f"/api/v1/credentials/{created['id']}", json={"passphrase": None}), 400)
    assert "the private key is encrypted" in message  # a change that would break the key is refused
    patched = await ok_data(
        await client.patch(f"/api/v1/credentials/{created['id']}", json={"password": "new-pass", "description": "ops"})
    )
    assert patched["has_password"] and patched["description"] == "ops" and patched["servers"] == 2

    servers = (await ok_data(await client.get("/api/v1/servers")))["servers"]
    for server in servers:
        await ok_data(await client.delete(f"/api/v1/servers/{server['id']}"))
    deleted = await ok_data(await client.delete(f"/api/v1/credentials/{created['id']}"))
    assert deleted == {"id": created["id"], "deleted": True}
    assert count(raw_db, "credential") == 0


async def test_groups_nest_and_jobs_go_to_every_active_server_of_a_group(client: Client, raw_db: pw.Database) -> None:
    web1 = await create_server(client, password_server("web1", groups=["web", "eu"]))
    web2 = await create_server(client, password_server("web2", groups=["web"]))
    await create_server(client, password_server("web3", groups=["web"], is_active=False))
    db1 = await create_server(client, password_server("db1", groups=["db"]))
    await create_server(client, password_server("idle", groups=["parked"], is_active=False))
    assert web1["groups"] == ["eu", "web"]
    moved = await ok_data(await client.put(f"/api/v1/servers/{db1['id']}", json={"groups": ["db", "eu"]}))
    assert moved["groups"] == ["db", "eu"]
    for bad in (["all"], ["ungrouped"], ["bad name"], "web"):
        await error_of(await client.post("/api/v1/servers", json=password_server("x", groups=bad)), 400)
    assert "groups: may not be null" in await error_of(
        await client.put(f"/api/v1/servers/{db1['id']}", json={"groups": None}), 400
    )

    groups = {g["name"]: g for g in (await ok_data(await client.get("/api/v1/groups")))["groups"]}
    assert groups["web"]["servers"] == ["web1", "web2", "web3"] and groups["eu"]["servers"] == ["db1", "web1"]

    # A group runs on its active servers, one job each, sharing a batch; the answer lists them by server name.
    submitted = await ok_data(await client.post("/api/v1/jobs", json={"group": "web", "command": "uptime"}), 201)
    assert submitted["count"] == 2 and [j["server"]["name"] for j in submitted["jobs"]] == ["web1", "web2"]
    summary = await ok_data(await client.get(f"/api/v1/batches/{submitted['batch_id']}"))
    assert summary["status"] == "running" and summary["total"] == 2
    assert summary["counts"] == {"queued": 2, "starting": 0, "running": 0, "completed": 0, "failed": 0, "canceled": 0}
    assert [(j["server_name"], j["exit_code"]) for j in summary["jobs"]] == [("web1", None), ("web2", None)]
    listed = await ok_data(await client.get(f"/api/v1/jobs?batch_id={submitted['batch_id']}"))
    assert sorted(j["id"] for j in listed["jobs"]) == sorted(j["id"] for j in submitted["jobs"])

    script = await ok_data(
        await client.post(
            "/api/v1/jobs/script", json={"server_ids": [db1["id"], web2["id"]], "script": "echo hi", "timeout": 60}
        ),
        201,
    )
    assert [j["server"]["name"] for j in script["jobs"]] == ["db1", "web2"]
    assert {j["kind"] for j in script["jobs"]} == {"script"}
    single = await ok_data(await client.post("/api/v1/jobs", json={"server_id": web1["id"], "command": "true"}), 201)
    assert single["batch_id"] is None and single["server_id"] == web1["id"]  # one server: the job, as before
    for job in submitted["jobs"]:
        await ok_data(await client.post(f"/api/v1/jobs/{job['id']}/cancel"))
    canceled = await ok_data(await client.get(f"/api/v1/batches/{submitted['batch_id']}"))
    assert canceled["status"] == "canceled" and canceled["finished_at"] is not None

    jobs_before = count(raw_db, "job")
    inactive = (await ok_data(await client.get("/api/v1/servers")))["servers"]
    web3 = next(s for s in inactive if s["name"] == "web3")
    for body, status, message in (
        ({"command": "ls"}, 400, "server_id: is required"),
        ({"command": "ls", "group": "web", "server_id": web1["id"]}, 400, "exactly one of"),
        ({"command": "ls", "server_ids": []}, 400, "server_ids"),
        ({"command": "ls", "server_ids": [web1["id"], web1["id"]]}, 400, "each server once"),
        ({"command": "ls", "server_ids": [web1["id"], web3["id"]]}, 409, "'web3' is inactive"),
        ({"command": "ls", "server_ids": [web1["id"], "nope"]}, 404, "Server not found"),
        ({"command": "ls", "group": "nobody"}, 404, "no group named 'nobody'"),
        ({"command": "ls", "group": "parked"}, 409, "group 'parked' has no active servers"),
        ({"command": "ls", "group": "web", "become": False, "become_user": "root"}, 400, "become"),
    ):
        assert message in await error_of(await client.post("/api/v1/jobs", json=body), status), body
    assert count(raw_db, "job") == jobs_before  # refused submissions store nothing
    await error_of(await client.get("/api/v1/batches/00000000-0000-4000-8000-000000000000"), 404)
    await error_of(await client.get("/api/v1/batches/not-a-uuid"), 404)
