"""Scopes: a caller limited to group ``web`` sees, runs, cancels, duplicates, searches and counts only what is on
servers in ``web``, through every /api/v1 route, on SQLite and PostgreSQL (docs/access.md, "Scopes")."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import peewee as pw
import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from app.api.context import RUNTIME_KEY
from app.apikeys import create_key
from app.clock import utcnow
from app.models import Job, JobTemplate, Schedule
from app.rights import ROUTE_RIGHTS
from app.runtime import Runtime
from app.scopes import ENDPOINT_SCOPES, UNSCOPED_ONLY
from app.settings import Settings
from app.users import create_user, set_password
from tests.harness.cli import newremora
from tests.harness.wait import wait_until_async
from tests.helpers import error_of, ok_data, password_server

WEB: frozenset[str] = frozenset({"web1", "web2", "web3"})  # web3 is in group edge, nested in web
PLAYBOOK = "site.yml"


@pytest.fixture
def settings_overrides(tmp_path: Path) -> dict[str, Any]:
    playbooks = tmp_path / "playbooks"
    playbooks.mkdir()
    (playbooks / PLAYBOOK).write_text("- hosts: all\n  gather_facts: false\n  tasks:\n    - ping:\n")
    return {"playbook_dir": playbooks}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@dataclass
class World:
    """Groups web (web1, web2, and edge nested in it: web3), db (db1, db2), fleet (web and db); jobs and batches on
    each side; an unscoped administrator, and an operator and an administrator limited to group web."""

    admin: dict[str, str]
    webop: dict[str, str]
    webadmin: dict[str, str]
    servers: dict[str, str] = field(default_factory=dict)  # name -> id
    jobs: dict[str, str] = field(default_factory=dict)  # label -> id
    batches: dict[str, str] = field(default_factory=dict)  # label -> batch id
    triggers: dict[str, str] = field(default_factory=dict)  # label -> trigger id, or template id ("template:web")


async def build_world(app: Quart, client: Client) -> World:
    runtime: Runtime = app.extensions[RUNTIME_KEY]

    def people() -> tuple[str, str, str]:
        root = create_user("root", "admin")
        return (
            create_key("root", root).key,
            create_key("op", create_user("webop", "operator")).key,
            create_key("adm", create_user("webadmin", "admin")).key,
        )

    root, op, adm = runtime.database.call(people)
    world = World(bearer(root), bearer(op), bearer(adm))
    # Port 1 refuses at once: the connectivity routes answer quickly.
    for name, groups in (("web1", ["web"]), ("web2", ["web"]), ("web3", ["edge"]), ("db1", ["db"]), ("db2", ["db"])):
        body = password_server(name, port=1, groups=groups)
        world.servers[name] = (
            await ok_data(await client.post("/api/v1/servers", json=body, headers=world.admin), 201)
        )["id"]

    def nest() -> None:
        from app.groups import add_children

        add_children("web", ["edge"])
        add_children("fleet", ["web", "db"])

    runtime.database.call(nest)
    scoped = {"groups": ["web"]}
    await ok_data(await client.patch("/api/v1/users/webop", json={"scope": scoped}, headers=world.admin))
    await ok_data(await client.patch("/api/v1/users/webadmin", json={"scope": scoped}, headers=world.admin))

    async def submit(label: str, body: dict[str, Any]) -> dict[str, Any]:
        data: dict[str, Any] = await ok_data(await client.post("/api/v1/jobs", json=body, headers=world.admin), 201)
        if "jobs" in data:
            world.batches[label] = data["batch_id"]
            for job in data["jobs"]:
                world.jobs[f"{label}:{job['server_id']}"] = job["id"]
        else:
            world.jobs[label] = data["id"]
        return data

    await submit("web", {"server_id": world.servers["web1"], "command": "echo web-secret-word"})
    await submit("web-done", {"server_id": world.servers["web2"], "command": "uptime"})
    await submit("db", {"server_id": world.servers["db1"], "command": "echo db-secret-word"})
    await submit("db-done", {"server_id": world.servers["db2"], "command": "uptime"})
    await submit("web-batch", {"group": "web", "command": "hostname"})
    await submit("db-batch", {"group": "db", "command": "hostname"})
    await submit("mixed-batch", {"server_ids": [world.servers["web1"], world.servers["db1"]], "command": "id"})

    def finish() -> None:
        now = utcnow()
        done = [world.jobs["web-done"], world.jobs["db-done"]]
        Job.update(status="completed", exit_code=0, started_at=now, finished_at=now).where(Job.id.in_(done)).execute()

    runtime.database.call(finish)
    return world


def job_servers(raw_db: pw.Database) -> dict[str, str]:
    """Job id -> its server's name, read beside the API."""
    rows = raw_db.execute_sql("SELECT j.id, s.name FROM job j JOIN server s ON s.id = j.server_id").fetchall()
    return {str(job_id): str(name) for job_id, name in rows}


def counts(raw_db: pw.Database) -> tuple[int, int]:
    jobs = raw_db.execute_sql("SELECT COUNT(*), COUNT(DISTINCT batch_id) FROM job").fetchone()
    return int(jobs[0]), int(jobs[1])


Probe = Callable[[Client, World, pw.Database], Awaitable[None]]


async def missing(response: Any, message: str) -> None:
    """Out of scope answers exactly as a missing object does."""
    assert await error_of(response, 404) == message


async def me(client: Client, w: World, raw_db: pw.Database) -> None:
    data = await ok_data(await client.get("/api/v1/me", headers=w.webop))
    assert data["scope"] == {"groups": ["web"], "servers": [], "within": None}
    assert "jobs.create_job" in data["allowed"] and "audit.list_audit" not in data["allowed"]
    admin = await ok_data(await client.get("/api/v1/me", headers=w.webadmin))
    assert "users.list_users" not in admin["allowed"] and "servers.update_server" in admin["allowed"]
    assert (await ok_data(await client.get("/api/v1/me", headers=w.admin)))["scope"] is None


async def list_servers(client: Client, w: World, raw_db: pw.Database) -> None:
    data = await ok_data(await client.get("/api/v1/servers", headers=w.webop))
    assert {server["name"] for server in data["servers"]} == WEB
    assert len((await ok_data(await client.get("/api/v1/servers", headers=w.admin)))["servers"]) == 5


async def get_server(client: Client, w: World, raw_db: pw.Database) -> None:
    await ok_data(await client.get(f"/api/v1/servers/{w.servers['web3']}", headers=w.webop))
    await missing(await client.get(f"/api/v1/servers/{w.servers['db1']}", headers=w.webop), "Server not found")


async def create_server(client: Client, w: World, raw_db: pw.Database) -> None:
    outside = password_server("db9", groups=["db"])
    assert "out of the caller's scope" in await error_of(
        await client.post("/api/v1/servers", json=outside, headers=w.webadmin), 403
    )
    assert await error_of(await client.post("/api/v1/servers", json=password_server("x9"), headers=w.webadmin), 403)
    names = {row[0] for row in raw_db.execute_sql("SELECT name FROM server").fetchall()}
    assert "db9" not in names and "x9" not in names  # nothing created
    inside = password_server("web9", groups=["edge"])
    w.servers["web9"] = (await ok_data(await client.post("/api/v1/servers", json=inside, headers=w.webadmin), 201))[
        "id"
    ]


async def update_server(client: Client, w: World, raw_db: pw.Database) -> None:
    await ok_data(await client.patch(f"/api/v1/servers/{w.servers['web1']}", json={"port": 2}, headers=w.webadmin))
    await missing(
        await client.patch(f"/api/v1/servers/{w.servers['db1']}", json={"port": 2}, headers=w.webadmin),
        "Server not found",
    )
    away = await client.patch(f"/api/v1/servers/{w.servers['web2']}", json={"groups": ["db"]}, headers=w.webadmin)
    assert await error_of(away, 403)
    kept = await ok_data(await client.get(f"/api/v1/servers/{w.servers['web2']}", headers=w.admin))
    assert kept["groups"] == ["web"]  # refused whole: nothing changed
    port = raw_db.execute_sql("SELECT port FROM server WHERE name = 'db1'").fetchone()[0]
    assert port == 1
    # A credential is shared across scopes: a scoped administrator neither gives one to a server nor points a
    # server that has one at another host (a job would hand its password to that host).
    shared = {"name": "shared", "password": "a password of many servers"}
    credential = (await ok_data(await client.post("/api/v1/credentials", json=shared, headers=w.admin), 201))["id"]
    await ok_data(
        await client.patch(f"/api/v1/servers/{w.servers['web2']}", json={"credential_id": credential}, headers=w.admin)
    )
    for name, change in (("web1", {"credential_id": credential}), ("web2", {"hostname": "203.0.113.9"})):
        refused = await client.patch(f"/api/v1/servers/{w.servers[name]}", json=change, headers=w.webadmin)
        assert "shared by servers of any scope" in await error_of(refused, 403)
    borrowed = password_server("web8", groups=["web"], credential_id=credential)
    assert await error_of(await client.post("/api/v1/servers", json=borrowed, headers=w.webadmin), 403)
    hosts = dict(raw_db.execute_sql("SELECT name, hostname FROM server").fetchall())
    assert hosts["web2"] == "127.0.0.1" and "web8" not in hosts
    await ok_data(
        await client.patch(f"/api/v1/servers/{w.servers['web2']}", json={"is_active": True}, headers=w.webadmin)
    )


async def delete_server(client: Client, w: World, raw_db: pw.Database) -> None:
    await missing(await client.delete(f"/api/v1/servers/{w.servers['db2']}", headers=w.webadmin), "Server not found")
    await ok_data(await client.delete(f"/api/v1/servers/{w.servers.pop('web9')}", headers=w.webadmin))
    assert raw_db.execute_sql("SELECT COUNT(*) FROM server").fetchone()[0] == 5


async def forget_host_key(client: Client, w: World, raw_db: pw.Database) -> None:
    await ok_data(await client.delete(f"/api/v1/servers/{w.servers['web1']}/host-key", headers=w.webadmin))
    await missing(
        await client.delete(f"/api/v1/servers/{w.servers['db1']}/host-key", headers=w.webadmin), "Server not found"
    )


async def server_test(client: Client, w: World, raw_db: pw.Database) -> None:
    await missing(await client.post(f"/api/v1/servers/{w.servers['db1']}/test", headers=w.webop), "Server not found")
    tested = await ok_data(await client.post(f"/api/v1/servers/{w.servers['web1']}/test", headers=w.webop))
    assert tested["status"] == "disconnected"


async def check_status(client: Client, w: World, raw_db: pw.Database) -> None:
    data = await ok_data(await client.post("/api/v1/servers/check-status", headers=w.webop))
    assert {check["name"] for check in data["servers"]} == WEB
    unchecked = raw_db.execute_sql("SELECT name FROM server WHERE last_checked_at IS NULL").fetchall()
    assert {row[0] for row in unchecked} >= {"db1", "db2"}  # never contacted for this caller


async def upload_pem(client: Client, w: World, raw_db: pw.Database) -> None:
    # A PEM file involves no server until a server names it: a scoped administrator may upload one.
    refused = await client.post("/api/v1/servers/upload-pem", headers=w.webadmin)
    assert await error_of(refused, 400) == "pem_file: is required (multipart/form-data file field)"


async def list_jobs(client: Client, w: World, raw_db: pw.Database) -> None:
    on = job_servers(raw_db)
    data = await ok_data(await client.get("/api/v1/jobs?limit=100", headers=w.webop))
    listed = {job["id"] for job in data["jobs"]}
    assert listed == {job_id for job_id, name in on.items() if name in WEB}
    assert data["pagination"]["total"] == len(listed)
    for query in ("search=db-secret", f"server_id={w.servers['db1']}", f"batch_id={w.batches['db-batch']}"):
        found = await ok_data(await client.get(f"/api/v1/jobs?{query}", headers=w.webop))
        assert (found["jobs"], found["pagination"]["total"]) == ([], 0), query
    # A listing shows the jobs in scope, one by one: the mixed batch's job on web1, not the one on db1.
    mixed = await ok_data(
        await client.get(f"/api/v1/jobs?batch_id={w.batches['mixed-batch']}&status=queued", headers=w.webop)
    )
    assert [on[job["id"]] for job in mixed["jobs"]] == ["web1"]
    found = await ok_data(await client.get("/api/v1/jobs?search=SECRET-WORD", headers=w.webop))
    assert [job["id"] for job in found["jobs"]] == [w.jobs["web"]]
    everyone = await ok_data(await client.get("/api/v1/jobs?search=secret-word", headers=w.admin))
    assert everyone["pagination"]["total"] == 2  # the same filter, unscoped: the total is not shared


def job_reader(suffix: str) -> Probe:
    async def probe(client: Client, w: World, raw_db: pw.Database) -> None:
        path = f"/api/v1/jobs/{{}}{suffix}"
        response = await client.get(path.format(w.jobs["web-done"]), headers=w.webop)
        assert response.status_code == 200, await response.get_data()
        await missing(await client.get(path.format(w.jobs["db-done"]), headers=w.webop), "Job not found")
        await missing(
            await client.get(path.format(w.jobs["mixed-batch:" + w.servers["db1"]]), headers=w.webop), "Job not found"
        )

    return probe


async def stream(client: Client, w: World, raw_db: pw.Database) -> None:
    await missing(await client.get(f"/api/v1/jobs/{w.jobs['db-done']}/stream", headers=w.webop), "Job not found")
    ended = await client.get(f"/api/v1/jobs/{w.jobs['web-done']}/stream", headers=w.webop)
    assert ended.status_code == 200 and "event: complete" in await ended.get_data(as_text=True)


def submission(path: str, fields: dict[str, Any]) -> Probe:
    async def probe(client: Client, w: World, raw_db: pw.Database) -> None:
        before = counts(raw_db)
        s = w.servers
        for target, message in (
            ({"server_id": s["db1"]}, "Server not found"),
            ({"server_ids": [s["web1"], s["web2"], s["db1"]]}, "Server not found"),
            ({"group": "db"}, "Group not found: no group named 'db'"),
            ({"group": "fleet"}, "Group not found: no group named 'fleet'"),  # reaches web and db
        ):
            await missing(await client.post(path, json={**fields, **target}, headers=w.webop), message)
        assert counts(raw_db) == before  # refused whole: no job, no batch
        batch = await ok_data(await client.post(path, json={**fields, "group": "web"}, headers=w.webop), 201)
        assert {job["server_id"] for job in batch["jobs"]} == {s[name] for name in WEB}
        one = await ok_data(await client.post(path, json={**fields, "server_id": s["web3"]}, headers=w.webop), 201)
        assert one["server_id"] == s["web3"]

    return probe


async def cancel_job(client: Client, w: World, raw_db: pw.Database) -> None:
    await missing(await client.post(f"/api/v1/jobs/{w.jobs['db']}/cancel", headers=w.webop), "Job not found")
    status = raw_db.execute_sql(f"SELECT status FROM job WHERE id = {raw_db.param}", (w.jobs["db"],))
    assert status.fetchone()[0] == "queued"
    canceled = await ok_data(await client.post(f"/api/v1/jobs/{w.jobs['web']}/cancel", headers=w.webop))
    assert canceled["status"] == "canceled" and canceled["canceled_by"].startswith("key:")


async def duplicate_job(client: Client, w: World, raw_db: pw.Database) -> None:
    before = counts(raw_db)
    await missing(await client.post(f"/api/v1/jobs/{w.jobs['db-done']}/duplicate", headers=w.webop), "Job not found")
    elsewhere = {"server_id": w.servers["db2"]}
    away = await client.post(f"/api/v1/jobs/{w.jobs['web-done']}/duplicate", json=elsewhere, headers=w.webop)
    await missing(away, "Server not found")
    assert counts(raw_db) == before
    copy = await ok_data(await client.post(f"/api/v1/jobs/{w.jobs['web-done']}/duplicate", headers=w.webop), 201)
    assert copy["new_job"]["server_id"] == w.servers["web2"]


async def batch_summary(client: Client, w: World, raw_db: pw.Database) -> None:
    data = await ok_data(await client.get(f"/api/v1/batches/{w.batches['web-batch']}", headers=w.webop))
    assert {job["server_name"] for job in data["jobs"]} == WEB
    for label in ("db-batch", "mixed-batch"):  # a batch with any server out of scope is invisible whole
        await missing(await client.get(f"/api/v1/batches/{w.batches[label]}", headers=w.webop), "Batch not found")


async def admin_template(client: Client, w: World, name: str, target: dict[str, Any]) -> str:
    body = {"name": name, "kind": "command", "command": "true", **target}
    made = await ok_data(await client.post("/api/v1/templates", json=body, headers=w.admin), 201)
    return str(made["id"])


async def list_templates(client: Client, w: World, raw_db: pw.Database) -> None:
    await admin_template(client, w, "l-web", {"group": "web"})
    await admin_template(client, w, "l-db", {"server_id": w.servers["db1"]})
    await admin_template(client, w, "l-fleet", {"group": "fleet"})  # reaches db too
    await admin_template(client, w, "l-mixed", {"server_ids": [w.servers["web1"], w.servers["db1"]]})
    data = await ok_data(await client.get("/api/v1/templates", headers=w.webop))
    assert {one["name"] for one in data["templates"]} >= {"l-web"}
    assert not {one["name"] for one in data["templates"]} & {"l-db", "l-fleet", "l-mixed"}


def template_reader(suffix: str) -> Probe:
    async def probe(client: Client, w: World, raw_db: pw.Database) -> None:
        label = suffix.strip("/")
        hidden = await admin_template(client, w, f"r-db{label}", {"group": "fleet"})
        shown = await admin_template(client, w, f"r-web{label}", {"server_id": w.servers["web3"]})
        for key in (hidden, f"r-db{label}"):  # by id and by name alike
            await missing(await client.get(f"/api/v1/templates/{key}{suffix}", headers=w.webop), "Template not found")
        await ok_data(await client.get(f"/api/v1/templates/{shown}{suffix}", headers=w.webop))

    return probe


async def create_template(client: Client, w: World, raw_db: pw.Database) -> None:
    body = {"name": "c-new", "kind": "command", "command": "true"}
    s = w.servers
    for target, message in (
        ({"server_id": s["db1"]}, "Server not found"),
        ({"server_ids": [s["web1"], s["db1"]]}, "Server not found"),
        ({"group": "fleet"}, "Group not found: no group named 'fleet'"),
    ):
        await missing(await client.post("/api/v1/templates", json={**body, **target}, headers=w.webop), message)
    made = await ok_data(await client.post("/api/v1/templates", json={**body, "group": "web"}, headers=w.webop), 201)
    assert made["version"] == 1 and made["created_by"].startswith("key:")


async def update_template(client: Client, w: World, raw_db: pw.Database) -> None:
    hidden = await admin_template(client, w, "u-db", {"group": "db"})
    shown = await admin_template(client, w, "u-web", {"group": "web"})
    body = {"name": "u-web", "kind": "command", "command": "id"}
    await missing(
        await client.put(f"/api/v1/templates/{hidden}", json={**body, "group": "web"}, headers=w.webop),
        "Template not found",
    )
    away = await client.put(f"/api/v1/templates/{shown}", json={**body, "server_id": w.servers["db2"]}, headers=w.webop)
    await missing(away, "Server not found")
    done = await ok_data(await client.put(f"/api/v1/templates/{shown}", json={**body, "group": "web"}, headers=w.webop))
    assert (done["version"], done["command"]) == (2, "id")


async def delete_template(client: Client, w: World, raw_db: pw.Database) -> None:
    hidden = await admin_template(client, w, "d-db", {"server_id": w.servers["db2"]})
    shown = await admin_template(client, w, "d-web", {"server_id": w.servers["web2"]})
    await missing(await client.delete(f"/api/v1/templates/{hidden}", headers=w.webop), "Template not found")
    await ok_data(await client.delete(f"/api/v1/templates/{shown}", headers=w.webop))
    assert raw_db.execute_sql("SELECT COUNT(*) FROM job_template WHERE name = 'd-db'").fetchone()[0] == 1


async def launch_template(client: Client, w: World, raw_db: pw.Database) -> None:
    before = counts(raw_db)
    hidden = await admin_template(client, w, "x-fleet", {"group": "fleet"})
    shown = await admin_template(client, w, "x-web", {"group": "web"})
    await missing(
        await client.post(f"/api/v1/templates/{hidden}/launch", headers=w.webop, json={}), "Template not found"
    )
    assert counts(raw_db) == before
    batch = await ok_data(await client.post(f"/api/v1/templates/{shown}/launch", json={}, headers=w.webop), 201)
    assert {job["server_id"] for job in batch["jobs"]} == {w.servers[name] for name in WEB}
    assert {job["template_id"] for job in batch["jobs"]} == {shown}


async def groups(client: Client, w: World, raw_db: pw.Database) -> None:
    data = await ok_data(await client.get("/api/v1/groups", headers=w.webop))
    shown = {group["name"]: group for group in data["groups"]}
    assert set(shown) == {"web", "edge"}
    assert shown["web"]["parents"] == [] and shown["web"]["children"] == ["edge"]  # "fleet" is not shown
    assert len((await ok_data(await client.get("/api/v1/groups", headers=w.admin)))["groups"]) == 4


async def system_info(client: Client, w: World, raw_db: pw.Database) -> None:
    on = job_servers(raw_db)
    data = await ok_data(await client.get("/api/v1/system/info", headers=w.webop))
    assert data["total_servers"] == 3
    assert data["total_jobs"] == sum(1 for name in on.values() if name in WEB)
    assert data["completed_jobs"] == 1  # web-done only
    everyone = await ok_data(await client.get("/api/v1/system/info", headers=w.admin))
    assert (everyone["total_servers"], everyone["total_jobs"], everyone["completed_jobs"]) == (5, len(on), 2)


async def system_enhanced(client: Client, w: World, raw_db: pw.Database) -> None:
    data = await ok_data(await client.get("/api/v1/system/enhanced", headers=w.webop))
    servers = data["connected_servers"] + data["disconnected_servers"] + data["unchecked_servers"]
    assert servers == 3 and data["jobs_per_hour"] == 1
    everyone = await ok_data(await client.get("/api/v1/system/enhanced", headers=w.admin))
    assert everyone["jobs_per_hour"] == 2


async def playbooks(client: Client, w: World, raw_db: pw.Database) -> None:
    await ok_data(await client.get("/api/v1/playbooks", headers=w.webop))


def unscoped_only(method: str, path: str, body: dict[str, Any] | None = None) -> Probe:
    async def probe(client: Client, w: World, raw_db: pw.Database) -> None:
        response = await client.open(path, method=method, json=body or {}, headers=w.webadmin)
        assert await error_of(response, 403) == UNSCOPED_ONLY

    return probe


async def inventory_export(client: Client, w: World, raw_db: pw.Database) -> None:
    for fmt in ("ini", "yaml"):
        response = await client.get(f"/api/v1/inventories/export?format={fmt}", headers=w.webadmin)
        text = await response.get_data(as_text=True)
        assert response.status_code == 200 and all(name in text for name in WEB), text
        assert "db1" not in text and "db2" not in text and "fleet" not in text, text


async def list_keys(client: Client, w: World, raw_db: pw.Database) -> None:
    data = await ok_data(await client.get("/api/v1/keys", headers=w.webadmin))
    assert {key["username"] for key in data["keys"]} == {"webadmin"}  # a scoped administrator: their own keys


async def create_key_probe(client: Client, w: World, raw_db: pw.Database) -> None:
    unknown = {"name": "bad", "scope": {"groups": ["nope"], "servers": ["db9"]}}
    message = await error_of(await client.post("/api/v1/keys", json=unknown, headers=w.webop), 400)
    assert "group 'nope'" in message and "server 'db9'" in message
    narrow = {"name": "web1 only", "scope": {"servers": ["web1"]}}
    made = await ok_data(await client.post("/api/v1/keys", json=narrow, headers=w.webop), 201)
    assert made["scope"] == {"groups": [], "servers": ["web1"], "within": None}
    listed = await ok_data(await client.get("/api/v1/servers", headers=bearer(made["key"])))
    assert [server["name"] for server in listed["servers"]] == ["web1"]
    # Narrower than the owner, never wider: a key naming db1 sees nothing of it.
    wide = {"name": "db1 too", "scope": {"servers": ["db1", "web2"]}}
    wider = await ok_data(await client.post("/api/v1/keys", json=wide, headers=w.webop), 201)
    listed = await ok_data(await client.get("/api/v1/servers", headers=bearer(wider["key"])))
    assert [server["name"] for server in listed["servers"]] == ["web2"]
    # A key with a scope of its own makes keys within it.
    minted = await ok_data(await client.post("/api/v1/keys", json={"name": "m"}, headers=bearer(made["key"])), 201)
    listed = await ok_data(await client.get("/api/v1/servers", headers=bearer(minted["key"])))
    assert [server["name"] for server in listed["servers"]] == ["web1"]
    w.jobs["key:web1 only"] = made["id"]


async def revoke_key(client: Client, w: World, raw_db: pw.Database) -> None:
    await ok_data(await client.delete(f"/api/v1/keys/{w.jobs.pop('key:web1 only')}", headers=w.webop))


PLAYBOOK_FIELDS: dict[str, Any] = {"playbook": PLAYBOOK}


async def list_triggers(client: Client, w: World, raw_db: pw.Database) -> None:
    # A template's scope is its targets': one on group web, one on group db (written beside the API).
    with raw_db.bind_ctx([JobTemplate]):
        for group in ("web", "db"):
            definition: dict[str, Any] = {"kind": "command", "command": "true", "group": group, "parameters": []}
            made = JobTemplate.create(name=f"t-{group}", version=1, definition=json.dumps(definition))
            w.triggers[f"template:{group}"] = str(made.id)
    for group in ("web", "db"):
        path = f"/api/v1/templates/{w.triggers[f'template:{group}']}/triggers"
        w.triggers[group] = (await ok_data(await client.post(path, json={}, headers=w.admin), 201))["id"]
    web = await ok_data(await client.get(f"/api/v1/templates/{w.triggers['template:web']}/triggers", headers=w.webop))
    assert [one["id"] for one in web["triggers"]] == [w.triggers["web"]] and "secret" not in web["triggers"][0]
    path = f"/api/v1/templates/{w.triggers['template:db']}/triggers"
    await missing(await client.get(path, headers=w.webop), "Template not found")


async def create_trigger(client: Client, w: World, raw_db: pw.Database) -> None:
    path = "/api/v1/templates/{}/triggers"
    await missing(
        await client.post(path.format(w.triggers["template:db"]), json={}, headers=w.webop), "Template not found"
    )
    made = await ok_data(await client.post(path.format(w.triggers["template:web"]), json={}, headers=w.webop), 201)
    assert made["secret"].startswith("nrwh_")
    assert raw_db.execute_sql("SELECT COUNT(*) FROM trigger").fetchone()[0] == 3  # web twice, db once


async def update_trigger(client: Client, w: World, raw_db: pw.Database) -> None:
    off = {"enabled": False}
    await missing(
        await client.patch(f"/api/v1/triggers/{w.triggers['db']}", json=off, headers=w.webop), "Trigger not found"
    )
    changed = await ok_data(await client.patch(f"/api/v1/triggers/{w.triggers['web']}", json=off, headers=w.webop))
    assert changed["enabled"] is False
    enabled = {row[0]: bool(row[1]) for row in raw_db.execute_sql("SELECT id, enabled FROM trigger").fetchall()}
    assert enabled[w.triggers["db"]] is True and enabled[w.triggers["web"]] is False


async def rotate_trigger(client: Client, w: World, raw_db: pw.Database) -> None:
    before = dict(raw_db.execute_sql("SELECT id, secret_enc FROM trigger").fetchall())
    path = "/api/v1/triggers/{}/rotate"
    await missing(await client.post(path.format(w.triggers["db"]), headers=w.webop), "Trigger not found")
    assert (await ok_data(await client.post(path.format(w.triggers["web"]), headers=w.webop)))["secret"]
    after = dict(raw_db.execute_sql("SELECT id, secret_enc FROM trigger").fetchall())
    assert after[w.triggers["db"]] == before[w.triggers["db"]] and after[w.triggers["web"]] != before[w.triggers["web"]]


async def delete_trigger(client: Client, w: World, raw_db: pw.Database) -> None:
    await missing(await client.delete(f"/api/v1/triggers/{w.triggers['db']}", headers=w.webop), "Trigger not found")
    await ok_data(await client.delete(f"/api/v1/triggers/{w.triggers['web']}", headers=w.webop))
    left = {row[0] for row in raw_db.execute_sql("SELECT id FROM trigger").fetchall()}
    assert w.triggers["db"] in left and w.triggers["web"] not in left


# Every endpoint: what a caller limited to group web gets, in scope and out of it. In this order (a probe may use
# what an earlier one made).
def _schedule_world(raw_db: pw.Database, w: World) -> None:
    """A template on web1 (in the web scope) and one on db1 with its schedule (out of it), written directly."""
    with raw_db.bind_ctx([JobTemplate, Schedule]):
        if JobTemplate.select().where(JobTemplate.name == "tpl-db").exists():
            return
        for name, server in (("tpl-web", "web1"), ("tpl-db", "db1")):
            definition = {"kind": "command", "command": "true", "timeout": 30, "server_id": w.servers[server]}
            JobTemplate.create(name=name, definition=json.dumps(definition))
        db_template = JobTemplate.get(JobTemplate.name == "tpl-db")
        Schedule.create(name="sched-db", template_id=db_template.id, cron="0 0 1 1 *", timezone="UTC")


async def create_schedule(client: Client, w: World, raw_db: pw.Database) -> None:
    _schedule_world(raw_db, w)
    body = {"name": "sched-web", "template": "tpl-db", "cron": "0 0 1 1 *"}
    await missing(await client.post("/api/v1/schedules", json=body, headers=w.webop), "Template not found")
    await ok_data(await client.post("/api/v1/schedules", json={**body, "template": "tpl-web"}, headers=w.webop), 201)


async def list_schedules(client: Client, w: World, raw_db: pw.Database) -> None:
    _schedule_world(raw_db, w)
    shown = await ok_data(await client.get("/api/v1/schedules", headers=w.webop))
    assert "sched-db" not in [one["name"] for one in shown["schedules"]]
    every = await ok_data(await client.get("/api/v1/schedules", headers=w.admin))
    assert "sched-db" in [one["name"] for one in every["schedules"]]


def schedule_object(method: str, suffix: str = "", body: dict[str, Any] | None = None) -> Probe:
    async def probe(client: Client, w: World, raw_db: pw.Database) -> None:
        _schedule_world(raw_db, w)
        path = f"/api/v1/schedules/sched-db{suffix}"
        await missing(await client.open(path, method=method, json=body, headers=w.webop), "Schedule not found")

    return probe


PROBES: dict[str, Probe] = {
    "me.me": me,
    "servers.list_servers": list_servers,
    "servers.get_server": get_server,
    "system.info": system_info,
    "system.enhanced": system_enhanced,
    "servers.create_server": create_server,
    "servers.update_server": update_server,
    "servers.delete_server": delete_server,
    "servers.forget_host_key": forget_host_key,
    "servers.test_server": server_test,
    "servers.check_status": check_status,
    "servers.upload_pem": upload_pem,
    "jobs.list_jobs": list_jobs,
    "jobs.get_job": job_reader(""),
    "jobs.job_logs": job_reader("/logs"),
    "jobs.job_stdout": job_reader("/stdout"),
    "jobs.job_stderr": job_reader("/stderr"),
    "jobs.job_tasks": job_reader("/tasks"),
    "stream.stream": stream,
    "batches.batch_summary": batch_summary,
    "templates.list_templates": list_templates,
    "templates.get_template": template_reader(""),
    "templates.template_versions": template_reader("/versions"),
    "templates.create_template": create_template,
    "templates.update_template": update_template,
    "templates.delete_template": delete_template,
    "templates.launch_template": launch_template,
    "jobs.cancel_job": cancel_job,
    "jobs.duplicate_job": duplicate_job,
    "jobs.create_job": submission("/api/v1/jobs", {"command": "true"}),
    "jobs.create_script_job": submission("/api/v1/jobs/script", {"script": "true"}),
    "jobs.create_playbook_job": submission("/api/v1/jobs/playbook", PLAYBOOK_FIELDS),
    "groups.groups": groups,
    "playbooks.playbooks": playbooks,
    "credentials.list_credentials": unscoped_only("GET", "/api/v1/credentials"),
    "credentials.get_credential": unscoped_only("GET", "/api/v1/credentials/x"),
    "credentials.create_credential": unscoped_only("POST", "/api/v1/credentials", {"name": "c", "password": "p"}),
    "credentials.update_credential": unscoped_only("PATCH", "/api/v1/credentials/x", {"name": "c"}),
    "credentials.delete_credential": unscoped_only("DELETE", "/api/v1/credentials/x"),
    "inventories.export": inventory_export,
    "inventories.import_": unscoped_only("POST", "/api/v1/inventories/import", {"content": "h1\n"}),
    "keys.list_keys": list_keys,
    "keys.create_key": create_key_probe,
    "keys.revoke_key": revoke_key,
    "users.list_users": unscoped_only("GET", "/api/v1/users"),
    "users.create_user": unscoped_only("POST", "/api/v1/users", {"username": "x", "role": "viewer"}),
    "users.get_user": unscoped_only("GET", "/api/v1/users/webadmin"),
    "users.update_user": unscoped_only("PATCH", "/api/v1/users/webadmin", {"scope": None}),
    "audit.list_audit": unscoped_only("GET", "/api/v1/audit"),
    "settings.list_settings": unscoped_only("GET", "/api/v1/settings"),
    "settings.change_settings": unscoped_only("PATCH", "/api/v1/settings", {"log_level": "debug"}),
    "notifications.list_targets": unscoped_only("GET", "/api/v1/notification-targets"),
    "notifications.create_target": unscoped_only(
        "POST", "/api/v1/notification-targets", {"name": "n", "url": "http://127.0.0.1:9/", "events": ["job.failed"]}
    ),
    "notifications.get_target": unscoped_only("GET", "/api/v1/notification-targets/x"),
    "notifications.update_target": unscoped_only("PATCH", "/api/v1/notification-targets/x", {"enabled": False}),
    "notifications.delete_target": unscoped_only("DELETE", "/api/v1/notification-targets/x"),
    "notifications.list_deliveries": unscoped_only("GET", "/api/v1/notification-targets/x/deliveries"),
    "notifications.test_target": unscoped_only("POST", "/api/v1/notification-targets/x/test"),
    "schedules.create_schedule": create_schedule,
    "schedules.list_schedules": list_schedules,
    "schedules.get_schedule": schedule_object("GET"),
    "schedules.schedule_runs": schedule_object("GET", "/runs"),
    "schedules.update_schedule": schedule_object("PATCH", body={"enabled": False}),
    "schedules.delete_schedule": schedule_object("DELETE"),
    "triggers.list_triggers": list_triggers,
    "triggers.create_trigger": create_trigger,
    "triggers.update_trigger": update_trigger,
    "triggers.rotate_trigger": rotate_trigger,
    "triggers.delete_trigger": delete_trigger,
}


def test_every_route_has_a_scope_decision_and_a_probe() -> None:
    """A route added later without a decision about scope fails here (and needs an unscoped caller meanwhile)."""
    endpoints = [right.endpoint for right in ROUTE_RIGHTS]
    assert sorted(ENDPOINT_SCOPES) == sorted(endpoints)
    assert sorted(PROBES) == sorted(endpoints)


async def test_a_caller_limited_to_a_group_sees_and_acts_only_within_it(
    app: Quart, client: Client, raw_db: pw.Database
) -> None:
    world = await build_world(app, client)
    failures: list[str] = []
    for endpoint, probe in PROBES.items():
        try:
            await probe(client, world, raw_db)
        except (AssertionError, KeyError) as exc:
            failures.append(f"{endpoint}: {str(exc)[:600]}")
    assert failures == [], "\n".join(failures)


async def names(client: Client, key: str) -> list[str]:
    listed = await ok_data(await client.get("/api/v1/servers", headers=bearer(key)))
    return [server["name"] for server in listed["servers"]]


def cli(settings: Settings, *args: str) -> str:
    """``newremora ...`` in a process of its own on the app's database: what an operator runs on the server."""
    assert settings.secret_key is not None
    env = {
        "NEWREMORA_DATA_DIR": str(settings.data_dir),
        "NEWREMORA_DATABASE_URL": settings.effective_database_url,
        "NEWREMORA_SECRET_KEY": settings.secret_key.reveal(),
    }
    done = newremora(*args, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


async def test_a_key_sees_at_most_its_owner_s_scope_now(app: Quart, client: Client, raw_db: pw.Database) -> None:
    runtime: Runtime = app.extensions[RUNTIME_KEY]
    root = bearer(runtime.database.call(lambda: create_key("root", create_user("root", "admin")).key))
    for name, groups in (("web1", ["web"]), ("web2", ["web"]), ("db1", ["db"]), ("db2", ["db"])):
        await ok_data(
            await client.post("/api/v1/servers", json=password_server(name, groups=groups), headers=root), 201
        )

    before = raw_db.execute_sql("SELECT COUNT(*) FROM app_user").fetchone()[0]
    unknown = {"username": "carol", "role": "operator", "scope": {"groups": ["web", "nope"], "servers": ["db9"]}}
    message = await error_of(await client.post("/api/v1/users", json=unknown, headers=root), 400)
    assert message == "scope: no such group 'nope', server 'db9'"
    assert await error_of(await client.post("/api/v1/users", json={**unknown, "scope": {}}, headers=root), 400)
    assert raw_db.execute_sql("SELECT COUNT(*) FROM app_user").fetchone()[0] == before  # nothing created

    body = {"username": "carol", "role": "operator", "scope": {"groups": ["web"], "servers": ["db1"]}}
    carol = await ok_data(await client.post("/api/v1/users", json=body, headers=root), 201)
    assert carol["scope"] == {"groups": ["web"], "servers": ["db1"], "within": None}
    keys = {
        name: (await ok_data(await client.post("/api/v1/keys", json=request, headers=root), 201))["key"]
        for name, request in (
            ("owner's", {"name": "owner's", "user_id": carol["id"]}),
            ("narrower", {"name": "narrower", "user_id": carol["id"], "scope": {"servers": ["web1", "db2"]}}),
        )
    }
    assert await names(client, keys["owner's"]) == ["db1", "web1", "web2"]
    assert await names(client, keys["narrower"]) == ["web1"]  # db2: never beyond the owner's scope
    me = await ok_data(await client.get("/api/v1/me", headers=bearer(keys["narrower"])))
    assert me["scope"] == {
        "groups": [],
        "servers": ["db2", "web1"],
        "within": {"groups": ["web"], "servers": ["db1"], "within": None},
    }

    # A server put into a granted group later is in scope at once (membership is read at each request).
    await ok_data(await client.post("/api/v1/servers", json=password_server("web3", groups=["web"]), headers=root), 201)
    assert await names(client, keys["owner's"]) == ["db1", "web1", "web2", "web3"]

    # Signed in through the page, the owner has the same scope (a browser session carries the user's scope now).
    runtime.database.call(set_password, "carol", "correct horse battery staple 7")
    signed = await client.post("/auth/signin", json={"username": "carol", "password": "correct horse battery staple 7"})
    cookie = {"Cookie": next(v for v in signed.headers.getlist("Set-Cookie") if v.startswith("newremora_session="))}
    cookie["Cookie"] = cookie["Cookie"].split(";", 1)[0]

    async def session_names() -> list[str]:
        listed = await ok_data(await client.get("/api/v1/servers", headers=cookie))
        return sorted(server["name"] for server in listed["servers"])

    assert await session_names() == ["db1", "web1", "web2", "web3"]
    assert (await ok_data(await client.get("/api/v1/me", headers=cookie)))["scope"]["groups"] == ["web"]

    # The owner narrowed: their keys narrowed at once; widened back to unlimited: so are their keys.
    narrowed = await client.patch(f"/api/v1/users/{carol['id']}", json={"scope": {"servers": ["web2"]}}, headers=root)
    assert (await ok_data(narrowed))["scope"] == {"groups": [], "servers": ["web2"], "within": None}
    assert await names(client, keys["owner's"]) == ["web2"]
    assert await names(client, keys["narrower"]) == []
    assert await session_names() == ["web2"]  # the signed-in page too, at its next request
    await ok_data(await client.patch(f"/api/v1/users/{carol['id']}", json={"scope": None}, headers=root))
    assert await names(client, keys["owner's"]) == ["db1", "db2", "web1", "web2", "web3"]
    assert await names(client, keys["narrower"]) == ["db2", "web1"]

    # The last administrator without a scope keeps it: nobody else could manage users.
    last = await client.patch("/api/v1/users/root", json={"scope": {"groups": ["web"]}}, headers=root)
    assert await error_of(last, 409) == "this is the last enabled administrator without a scope: make another one first"
    assert raw_db.execute_sql("SELECT scope FROM app_user WHERE username = 'root'").fetchone()[0] is None

    trail = raw_db.execute_sql("SELECT summary FROM audit_event WHERE action = 'user.update' ORDER BY id").fetchall()
    assert json.loads(trail[0][0]) == {"scope": {"servers": ["web2"]}}
    assert json.loads(trail[1][0]) == {"scope": None}


@pytest.mark.slow  # admin commands as processes
async def test_the_commands_set_and_show_scopes(app: Quart, client: Client, settings: Settings) -> None:
    runtime: Runtime = app.extensions[RUNTIME_KEY]
    root = bearer(runtime.database.call(lambda: create_key("root", create_user("root", "admin")).key))
    for name, groups in (("web1", ["web"]), ("db1", ["db"])):
        await ok_data(
            await client.post("/api/v1/servers", json=password_server(name, groups=groups), headers=root), 201
        )

    async def sees(key: str, expected: list[str]) -> None:
        # Changes made by another process count within LIVE_KEYS_TTL_S; the timeout only ends a broken test.
        async def listed() -> list[str] | None:
            response = await client.get("/api/v1/servers", headers=bearer(key))
            return (
                [s["name"] for s in (await response.get_json())["data"]["servers"]]
                if response.status_code == 200
                else None
            )

        await wait_until_async(listed, 30, f"the key to see {expected}", done=lambda names: names == expected)

    cli(settings, "user", "create", "dave", "--role", "operator", "--no-password", "--group", "web")
    made = cli(settings, "token", "create", "--name", "d", "--user", "dave").strip().splitlines()[-1]
    await sees(made, ["web1"])
    assert "limited to: servers db1" in cli(settings, "user", "scope", "dave", "--server", "db1")
    await sees(made, ["db1"])
    listed = next(line for line in cli(settings, "user", "list").splitlines() if " dave " in line)
    assert "servers db1" in listed
    ownerless = cli(settings, "token", "create", "--name", "w", "--group", "web").strip().splitlines()[-1]
    await sees(ownerless, ["web1"])
    assert "limited to: unlimited" in cli(settings, "user", "scope", "dave", "--unlimited")
    await sees(made, ["db1", "web1"])
