"""The audit trail, through real requests on SQLite and PostgreSQL: one row per state-changing action with its
actor, object and outcome; refused requests recorded and changing nothing; never a secret; filters, cursor
pages, the export and pruning by age (docs/audit.md)."""

from __future__ import annotations

import getpass
import io
import json
import os
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import peewee as pw
import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client
from werkzeug.datastructures import FileStorage

from app import audit, retention
from app.api.audit import AUDITED
from app.api.context import RUNTIME_KEY
from app.apikeys import create_key
from app.clock import utcnow
from app.models import AuditEvent
from app.runtime import Runtime
from app.settings import Settings
from tests.harness.cli import newremora
from tests.harness.wait import wait_until
from tests.helpers import error_of, make_key, ok_data, password_server

# Every secret the test sends; none may appear in the audit table or its export.
SERVER_PASSWORD = "audit-server-pw-5e1f"
BECOME_PASSWORD = "audit-become-pw-77aa"
CREDENTIAL_PASSWORD = "audit-credential-pw-c0de"
ROTATED_PASSWORD = "audit-rotated-pw-beef"
INVENTORY_PASSWORD = "audit-inventory-pw-f00d"
EXTRA_VAR_PASSWORD = "audit-extra-var-pw-9a9a"
PLAYBOOK = "- hosts: all\n  gather_facts: false\n  tasks:\n    - ansible.builtin.ping:\n"


@pytest.fixture
def settings_overrides(tmp_path: Path) -> dict[str, Any]:
    playbooks = tmp_path / "playbooks"
    playbooks.mkdir()
    (playbooks / "ping.yml").write_text(PLAYBOOK)
    return {"playbook_dir": playbooks}


def rows(raw_db: pw.Database, after: int = 0) -> list[dict[str, Any]]:
    cursor = raw_db.execute_sql(
        "SELECT id, actor, actor_kind, key_id, action, object_type, object_id, summary, source, request_id, "
        f"outcome, status FROM audit_event WHERE id > {after} ORDER BY id"
    )
    names = [column[0] for column in cursor.description]
    found = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    for row in found:
        row["summary"] = json.loads(row["summary"]) if row["summary"] is not None else None
    return found


class Trail:
    """The rows appended since the last look: each action must leave exactly one."""

    def __init__(self, raw_db: pw.Database) -> None:
        self.raw_db = raw_db
        self.last = 0

    def one(self, **expected: Any) -> dict[str, Any]:
        new = rows(self.raw_db, self.last)
        assert len(new) == 1, new
        row = new[0]
        self.last = row["id"]
        assert {name: row[name] for name in expected} == expected, row
        assert row["request_id"] and row["source"]
        return row


def count(raw_db: pw.Database, table: str) -> int:
    return int(raw_db.execute_sql(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def dump(raw_db: pw.Database) -> str:
    return repr(raw_db.execute_sql("SELECT * FROM audit_event").fetchall())


LOCAL = {"actor": "local:local", "key_id": None}


@pytest.mark.slow  # two connectivity checks run Ansible
async def test_each_action_leaves_one_row_with_its_actor_object_and_outcome_and_no_secret(
    app: Quart, client: Client, raw_db: pw.Database, tmp_path: Path
) -> None:
    trail = Trail(raw_db)
    # Servers, and group changes through them.
    body = password_server("audit-a", port=1, password=SERVER_PASSWORD, groups=["web"])
    body.update(become=True, become_password=BECOME_PASSWORD)
    a = await ok_data(await client.post("/api/v1/servers", json=body), 201)
    row = trail.one(**LOCAL, action="server.create", object_type="server", object_id=a["id"], outcome="success")
    assert row["status"] == 201 and row["summary"]["password"] == "(set)" and row["summary"]["groups"] == ["web"]
    assert row["summary"]["become_password"] == "(set)" and row["summary"]["name"] == "audit-a"
    b = await ok_data(await client.post("/api/v1/servers", json=password_server("audit-b", port=1)), 201)
    trail.one(action="server.create", object_id=b["id"])

    change = {"password": ROTATED_PASSWORD, "groups": ["web", "db"]}
    await ok_data(await client.patch(f"/api/v1/servers/{a['id']}", json=change))
    row = trail.one(**LOCAL, action="server.update", object_id=a["id"], outcome="success", status=200)
    assert row["summary"] == {"password": "(changed)", "groups": ["web", "db"]}
    await ok_data(await client.delete(f"/api/v1/servers/{a['id']}/host-key"))
    trail.one(action="server.forget_host_key", object_id=a["id"], outcome="success")

    # Refused: one row with the outcome, nothing else changed.
    servers_before = count(raw_db, "server")
    await error_of(await client.post("/api/v1/servers", json=password_server("audit-a", port=1)), 409)
    row = trail.one(**LOCAL, action="server.create", object_id=None, outcome="refused", status=409)
    assert row["summary"]["password"] == "(set)"
    await error_of(await client.patch(f"/api/v1/servers/{a['id']}", json={"port": "ssh", "password": "x" * 9}), 400)
    row = trail.one(action="server.update", object_id=a["id"], outcome="refused", status=400)
    assert row["summary"] is None  # what a refused body held is not kept
    await error_of(await client.delete("/api/v1/servers/no-such-server"), 404)
    trail.one(action="server.delete", object_id="no-such-server", outcome="refused", status=404)
    assert count(raw_db, "server") == servers_before

    # Connectivity checks (port 1: nothing listens, the checks answer disconnected).
    await ok_data(await client.post(f"/api/v1/servers/{a['id']}/test"))
    trail.one(**LOCAL, action="server.test", object_type="server", object_id=a["id"], outcome="success")
    await ok_data(await client.post("/api/v1/servers/check-status?active_only=true"))
    row = trail.one(action="server.check_status", object_type="server", object_id=None, outcome="success")
    assert row["summary"] == {"active_only": True}

    pem = make_key(tmp_path, "audit-key")
    upload = {"pem_file": FileStorage(io.BytesIO(pem.encode()), filename="deploy.pem")}
    uploaded = await ok_data(await client.post("/api/v1/servers/upload-pem", files=upload), 201)
    trail.one(**LOCAL, action="server.upload_pem", object_type="pem_file", object_id=uploaded["url"])

    # Credentials.
    credential_body = {"name": "audit-cred", "password": CREDENTIAL_PASSWORD, "become_password": BECOME_PASSWORD}
    credential = await ok_data(await client.post("/api/v1/credentials", json=credential_body), 201)
    row = trail.one(**LOCAL, action="credential.create", object_type="credential", object_id=credential["id"])
    assert row["summary"] == {"name": "audit-cred", "password": "(set)", "become_password": "(set)"}
    rotation = {"password": ROTATED_PASSWORD, "description": "rotated"}
    await ok_data(await client.put(f"/api/v1/credentials/{credential['id']}", json=rotation))
    row = trail.one(action="credential.update", object_id=credential["id"], outcome="success")
    assert row["summary"] == {"password": "(changed)", "description": "rotated"}
    await ok_data(await client.delete(f"/api/v1/credentials/{credential['id']}"))
    trail.one(action="credential.delete", object_id=credential["id"], outcome="success")

    # Inventory import (its text carries a password: the row keeps only that it was given).
    inventory = f"[db]\naudit-c ansible_host=127.0.0.1 ansible_port=1 ansible_password={INVENTORY_PASSWORD}\n"
    await ok_data(await client.post("/api/v1/inventories/import", json={"content": inventory, "format": "ini"}))
    row = trail.one(**LOCAL, action="inventory.import", object_type="inventory", outcome="success")
    assert row["summary"] == {"content": "(set)", "format": "ini"}

    # Jobs: one server, several, a group, a script, a playbook; cancel; duplicate.
    one = await ok_data(await client.post("/api/v1/jobs", json={"server_id": a["id"], "command": "uptime"}), 201)
    row = trail.one(**LOCAL, action="job.submit", object_type="job", object_id=one["id"], status=201)
    assert row["summary"] == {"server_id": a["id"], "command": "uptime"}
    assert one["submitted_by"] == "local:local" and one["canceled_by"] is None
    many = {"server_ids": [a["id"], b["id"]], "command": "id", "become_password": BECOME_PASSWORD, "become": True}
    batch = await ok_data(await client.post("/api/v1/jobs", json=many), 201)
    row = trail.one(action="job.submit", object_type="batch", object_id=batch["batch_id"], outcome="success")
    assert row["summary"]["become_password"] == "(set)"
    group = await ok_data(await client.post("/api/v1/jobs/script", json={"group": "web", "script": "echo hi"}), 201)
    trail.one(action="job.submit", object_type="batch", object_id=group["batch_id"])
    playbook_body = {"server_id": b["id"], "playbook": "ping.yml", "extra_vars": {"db_password": EXTRA_VAR_PASSWORD}}
    played = await ok_data(await client.post("/api/v1/jobs/playbook", json=playbook_body), 201)
    row = trail.one(action="job.submit", object_type="job", object_id=played["id"])
    assert row["summary"]["extra_vars"] == {"db_password": "(set)"}
    jobs_before = count(raw_db, "job")
    await error_of(await client.post("/api/v1/jobs", json={"group": "nope", "command": "id"}), 404)
    trail.one(action="job.submit", object_type="job", object_id=None, outcome="refused", status=404)
    assert count(raw_db, "job") == jobs_before

    canceled = await ok_data(await client.post(f"/api/v1/jobs/{one['id']}/cancel"))
    trail.one(**LOCAL, action="job.cancel", object_type="job", object_id=one["id"], outcome="success")
    assert canceled["status"] == "canceled" and canceled["canceled_by"] == "local:local"  # the answer says who
    await error_of(await client.post(f"/api/v1/jobs/{one['id']}/cancel"), 409)
    trail.one(action="job.cancel", object_id=one["id"], outcome="refused", status=409)
    shown = await ok_data(await client.get(f"/api/v1/jobs/{one['id']}"))
    assert (shown["submitted_by"], shown["canceled_by"]) == ("local:local", "local:local")

    # With an API key: the key's id is the actor, everywhere.
    runtime: Runtime = app.extensions[RUNTIME_KEY]
    made = runtime.database.call(create_key, "audit")
    bearer = {"Authorization": f"Bearer {made.key}"}
    key_actor = f"key:{made.record.id}"
    copy = await ok_data(await client.post(f"/api/v1/jobs/{one['id']}/duplicate", json={}, headers=bearer), 201)
    trail.one(actor=key_actor, key_id=made.record.id, action="job.duplicate", object_id=one["id"], outcome="success")
    assert copy["new_job"]["submitted_by"] == key_actor
    await ok_data(await client.post(f"/api/v1/jobs/{copy['new_job']['id']}/cancel", headers=bearer))
    trail.one(actor=key_actor, action="job.cancel", object_id=copy["new_job"]["id"])
    listing = await ok_data(await client.get("/api/v1/jobs?status=canceled", headers=bearer))
    by = {job["id"]: (job["submitted_by"], job["canceled_by"]) for job in listing["jobs"]}
    assert by[copy["new_job"]["id"]] == (key_actor, key_actor) and by[one["id"]] == ("local:local", "local:local")
    await ok_data(await client.delete(f"/api/v1/servers/{b['id']}?force=true", headers=bearer))
    row = trail.one(actor=key_actor, action="server.delete", object_id=b["id"], outcome="success")
    assert row["summary"] == {"force": True}

    # Failed authentication: actor unknown, the prefix of what was presented at most.
    wrong = "nr_" + "w" * 40
    await error_of(await client.get("/api/v1/servers", headers={"Authorization": f"Bearer {wrong}"}), 401)
    row = trail.one(actor="unknown", action="auth.failed", object_type="api_key", outcome="refused", status=401)
    assert row["summary"]["key_prefix"] == wrong[:10] and row["summary"]["path"] == "/api/v1/servers"
    await error_of(await client.post("/api/v1/jobs", json={}), 401)
    row = trail.one(actor="unknown", action="auth.failed", outcome="refused", object_type=None)
    assert row["summary"]["key_prefix"] is None
    await error_of(await client.get("/api/v1/jobs", headers={"Authorization": "Bearer aaa.bbb.ccc"}), 401)
    row = trail.one(actor="unknown", action="auth.failed", outcome="refused", object_type="jwt")
    await error_of(await client.get("/api/v1/jobs", headers={"Cookie": "newremora_session=" + "s" * 43}), 401)
    row = trail.one(actor="unknown", action="auth.failed", outcome="refused", object_type="session")
    assert row["summary"]["key_given"] is False

    # Reads leave nothing.
    await ok_data(await client.get("/api/v1/servers", headers=bearer))
    await ok_data(await client.get("/api/v1/audit", headers=bearer))
    assert rows(raw_db, trail.last) == []

    table = dump(raw_db)
    for secret in (SERVER_PASSWORD, BECOME_PASSWORD, CREDENTIAL_PASSWORD, ROTATED_PASSWORD, INVENTORY_PASSWORD):
        assert secret not in table
    for secret in (EXTRA_VAR_PASSWORD, made.key, wrong, pem.splitlines()[1]):
        assert secret not in table


@pytest.mark.parametrize("db_kind", ["sqlite"])
def test_every_state_changing_route_is_audited(app: Quart) -> None:
    """A new POST/PUT/PATCH/DELETE route under /api/v1 needs its line in app/api/audit.py's AUDITED."""
    changing = {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/") and set(rule.methods or ()) & {"POST", "PUT", "PATCH", "DELETE"}
    }
    assert changing - set(AUDITED) == set()
    assert set(AUDITED) <= changing  # no line for a route that is gone


@pytest.mark.parametrize("db_kind", ["sqlite"])
@pytest.mark.parametrize("settings_overrides", [{"rate_limit": 2}])
async def test_a_request_refused_before_authentication_leaves_no_row(
    app: Quart, client: Client, raw_db: pw.Database
) -> None:
    runtime: Runtime = app.extensions[RUNTIME_KEY]
    made = runtime.database.call(create_key, "limited")
    bearer = {"Authorization": f"Bearer {made.key}"}
    await ok_data(await client.post("/api/v1/servers", json=password_server("limited-a"), headers=bearer), 201)
    await ok_data(await client.post("/api/v1/servers", json=password_server("limited-b"), headers=bearer), 201)
    await error_of(await client.post("/api/v1/servers", json=password_server("limited-c"), headers=bearer), 429)
    found = [(r["actor"], r["key_id"], r["outcome"], r["status"]) for r in rows(raw_db)]
    key_actor = f"key:{made.record.id}"
    assert found == [
        (key_actor, made.record.id, "success", 201),
        (key_actor, made.record.id, "success", 201),
        # The rate limit answers before the key is looked at: no actor, and no row (else any client could grow
        # the table as fast as it sends).
    ]
    assert count(raw_db, "server") == 2


def record_many(runtime: Runtime, count_: int, **fields: Any) -> None:
    def work() -> None:
        for n in range(count_):
            values = {"actor": "local:local", "actor_kind": "local", "action": "server.update", **fields}
            values.setdefault("object_id", f"s{n % 3}")
            audit.record(audit.Entry(outcome=values.pop("outcome", "success"), object_type="server", **values))

    runtime.database.call(work)


def move_back(runtime: Runtime, ids: list[int], when: datetime) -> None:
    """Rows' time set by hand, rather than waiting (the test's own write: the service has no way to do it)."""
    runtime.database.call(lambda: AuditEvent.update(at=when).where(AuditEvent.id.in_(ids)).execute())


async def test_filters_and_cursor_pages_without_duplicates_or_gaps_while_rows_are_added(
    app: Quart, client: Client, raw_db: pw.Database
) -> None:
    runtime: Runtime = app.extensions[RUNTIME_KEY]
    record_many(runtime, 20)
    record_many(runtime, 4, actor="key:k1", actor_kind="key", key_id="k1", action="job.cancel", outcome="refused")
    expected = [row["id"] for row in reversed(rows(raw_db))]

    seen: list[int] = []
    cursor: str | None = None
    pages = 0
    while True:
        query = "/api/v1/audit?limit=5" + (f"&cursor={cursor}" if cursor else "")
        page = await ok_data(await client.get(query))
        seen += [event["id"] for event in page["events"]]
        pages += 1
        record_many(runtime, 2)  # newer rows arrive between pages: they must not shift the next one
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == expected and pages == 5

    by_actor = await ok_data(await client.get("/api/v1/audit?actor=key:k1"))
    assert [e["key_id"] for e in by_actor["events"]] == ["k1"] * 4
    assert all(e["action"] == "job.cancel" and e["outcome"] == "refused" for e in by_actor["events"])
    refused = await ok_data(await client.get("/api/v1/audit?outcome=refused&action=job.cancel&limit=3"))
    assert len(refused["events"]) == 3 and refused["next_cursor"] is not None
    one_object = await ok_data(await client.get("/api/v1/audit?object_type=server&object_id=s1&limit=500"))
    assert {e["object_id"] for e in one_object["events"]} == {"s1"} and len(one_object["events"]) >= 8

    # Time range: rows moved back by hand.
    oldest = expected[-3:]
    when = (utcnow() - timedelta(days=10)).replace(microsecond=0)
    move_back(runtime, oldest, when)
    since = (when - timedelta(seconds=1)).isoformat().replace("+00:00", "Z")
    until = (when + timedelta(days=1)).isoformat().replace("+00:00", "Z")
    ranged = await ok_data(await client.get(f"/api/v1/audit?since={since}&until={until}"))
    assert [e["id"] for e in ranged["events"]] == oldest
    recent = await ok_data(await client.get(f"/api/v1/audit?since={until}&limit=500"))
    assert not set(oldest) & {e["id"] for e in recent["events"]}

    # Bad input: 400 in the envelope; no route edits or deletes a row.
    before = dump(raw_db)
    assert "cursor" in await error_of(await client.get("/api/v1/audit?cursor=not-a-cursor!"), 400)
    assert "limit" in await error_of(await client.get("/api/v1/audit?limit=501"), 400)
    assert "outcome" in await error_of(await client.get("/api/v1/audit?outcome=maybe"), 400)
    for method in ("PUT", "PATCH", "DELETE", "POST"):
        assert (await client.open("/api/v1/audit", method=method, json={})).status_code == 405
    assert dump(raw_db) == before


async def test_pruning_by_age_in_batches_and_by_the_service(
    app: Quart, raw_db: pw.Database, settings: Settings
) -> None:
    runtime: Runtime = app.extensions[RUNTIME_KEY]
    record_many(runtime, 7)
    ids = [row["id"] for row in rows(raw_db)]
    old = utcnow() - timedelta(days=401)
    move_back(runtime, ids[:5], old)

    def audit_only(days: int) -> Callable[[str], int]:
        return lambda setting: days if setting == "audit_retention_days" else 0

    assert {s.count for s in retention.prune(runtime.database, audit_only(0))} == {0}  # 0: kept forever
    cutoff = utcnow() - timedelta(days=400)
    assert len(runtime.database.call(retention.prune_audit, cutoff, 2)) == 2  # one small batch
    assert [row["id"] for row in rows(raw_db)] == ids[2:]
    assert [s.count for s in retention.prune(runtime.database, audit_only(400), batch=2)] == [0, 0, 0, 3, 0]
    assert [row["id"] for row in rows(raw_db)] == ids[5:]

    # The service's own pruner (a thread of its own), on rows made old again.
    record_many(runtime, 2)
    newest = [row["id"] for row in rows(raw_db)]
    move_back(runtime, newest[:1], old)
    pruner = retention.Pruner(runtime.database, lambda name: getattr(settings, name), every_s=0.05)
    pruner.start()
    try:
        wait_until(lambda: [row["id"] for row in rows(raw_db)] == newest[1:], 10, "the old row pruned")
    finally:
        pruner.stop()


def cli_env(settings: Settings) -> dict[str, str]:
    assert settings.secret_key is not None
    return {
        "NEWREMORA_DATA_DIR": str(settings.data_dir),
        "NEWREMORA_DATABASE_URL": settings.effective_database_url,
        "NEWREMORA_SECRET_KEY": settings.secret_key.reveal(),
    }


@pytest.mark.slow  # admin commands as processes
async def test_admin_commands_are_recorded_with_the_os_user_and_exported_as_json_lines(
    app: Quart, client: Client, raw_db: pw.Database, settings: Settings, tmp_path: Path
) -> None:
    env = cli_env(settings)
    actor = f"cli:{getpass.getuser()}"
    trail = Trail(raw_db)
    made = newremora("token", "create", "--name", "ops", env=env, timeout=60)
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip().splitlines()[-1]
    key_id = made.stdout.split()[2]
    row = rows(raw_db)[-1]
    assert (row["actor"], row["actor_kind"], row["action"], row["object_id"], row["outcome"]) == (
        actor,
        "cli",
        "key.create",
        key_id,
        "success",
    )
    assert row["summary"] == {"name": "ops"} and row["status"] is None
    trail.last = row["id"]

    unknown = newremora("token", "revoke", "nope", env=env, timeout=60)
    assert unknown.returncode == 2
    new = rows(raw_db, trail.last)
    assert [(r["action"], r["outcome"], r["actor"]) for r in new] == [("key.revoke", "refused", actor)]
    revoked = newremora("token", "revoke", key_id, env=env, timeout=60)
    assert revoked.returncode == 0, revoked.stderr
    new = rows(raw_db, new[-1]["id"])
    assert [(r["action"], r["object_id"], r["outcome"]) for r in new] == [("key.revoke", key_id, "success")]

    inventory = tmp_path / "hosts.ini"
    host = f"cli-a ansible_host=127.0.0.1 ansible_user=deploy ansible_password={INVENTORY_PASSWORD}"
    inventory.write_text(f"[app]\n{host}\n")
    imported = newremora("import-inventory", str(inventory), env=env, timeout=120)
    assert imported.returncode == 0, imported.stdout
    new = rows(raw_db, new[-1]["id"])
    assert [(r["action"], r["actor"], r["outcome"]) for r in new] == [("inventory.import", actor, "success")]
    assert new[0]["summary"] == {"file": str(inventory), "format": "auto", "dry_run": False}

    exported = newremora("audit", "export", env=env, timeout=60)
    assert exported.returncode == 0, exported.stderr
    lines = [json.loads(line) for line in exported.stdout.splitlines()]
    assert [line["id"] for line in lines] == [row["id"] for row in rows(raw_db)]
    api = await ok_data(await client.get("/api/v1/audit?limit=500"))
    assert list(reversed(lines)) == api["events"]
    since = lines[-1]["at"]
    recent = newremora("audit", "export", "--since", since, env=env, timeout=60)
    assert [json.loads(line)["id"] for line in recent.stdout.splitlines()] == [lines[-1]["id"]]
    assert newremora("audit", "export", "--until", "yesterday", env=env, timeout=60).returncode == 2
    for secret in (key, INVENTORY_PASSWORD):
        assert secret not in exported.stdout and secret not in dump(raw_db)

    # User administration from the shell (last: a user ends single-user mode, the API then wants a key); the
    # password comes on stdin and is recorded as "(set)" only.
    user_password = "audit-user-pw-" + os.urandom(6).hex()
    created = newremora(
        "user", "create", "alice", "--role", "operator", "--password-file", "-", env=env, input=user_password + "\n"
    )
    assert created.returncode == 0, created.stderr
    disabled = newremora("user", "disable", "alice", env=env, timeout=60)
    assert disabled.returncode == 0, disabled.stderr
    new = rows(raw_db, lines[-1]["id"])
    assert [(r["action"], r["actor"], r["outcome"], r["summary"]) for r in new] == [
        ("user.create", actor, "success", {"username": "alice", "role": "operator", "password": "(set)"}),
        ("user.disable", actor, "success", {"username": "alice"}),
    ]
    assert new[0]["object_id"] == new[1]["object_id"] and new[0]["object_id"]
    assert user_password not in dump(raw_db)
