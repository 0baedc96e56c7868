"""A schedule's tick and a trigger's delivery launch within their owner's scope as it is at fire time, on both
databases (docs/orchestration.md, "Schedules" and "Signed triggers"): a scoped operator's template on group
``apps``; a server added to ``apps`` inside the operator's scope is launched, one added outside it refuses the
tick (recorded failed) and the delivery (403, audited) and launches nothing; a key's own narrower scope holds too;
a disabled owner refuses the delivery; whoever saves the trigger again owns it."""

from __future__ import annotations

import json
import time
from typing import Any

import peewee as pw
from quart import Quart
from quart.typing import TestClientProtocol as Client

from app.api.context import RUNTIME_KEY
from app.apikeys import create_key
from app.models import Schedule, ScheduleRun
from app.runtime import Runtime
from app.schedules import Fired, fire
from app.trigger_signatures import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from app.users import create_user
from tests.helpers import error_of, ok_data, password_server

YEARLY = "0 0 1 1 *"  # the service's own ticker never fires it: the test names each tick


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def query(raw_db: pw.Database, sql: str, *params: str) -> list[tuple[Any, ...]]:
    return list(raw_db.execute_sql(sql.replace("?", raw_db.param), params).fetchall())


def job_servers(raw_db: pw.Database, submitted_by: str) -> list[str]:
    """The names of the servers of the jobs one submitter launched, read beside the API."""
    sql = "SELECT s.name FROM job j JOIN server s ON s.id = j.server_id WHERE j.submitted_by = ? ORDER BY s.name"
    return [str(row[0]) for row in query(raw_db, sql, submitted_by)]


async def test_ticks_and_deliveries_launch_within_the_owner_s_scope_then(
    app: Quart, client: Client, raw_db: pw.Database
) -> None:
    rt: Runtime = app.extensions[RUNTIME_KEY]
    root = bearer(rt.database.call(lambda: create_key("root", create_user("root", "admin")).key))
    servers: dict[str, str] = {}
    for name, groups in (("web1", ["web", "apps"]), ("web2", ["web"]), ("db1", ["db"])):
        body = password_server(name, port=1, groups=groups)  # port 1: a job that runs fails at once
        servers[name] = (await ok_data(await client.post("/api/v1/servers", json=body, headers=root), 201))["id"]
    ops = await ok_data(
        await client.post(
            "/api/v1/users", json={"username": "ops", "role": "operator", "scope": {"groups": ["web"]}}, headers=root
        ),
        201,
    )
    keys = {
        name: (await ok_data(await client.post("/api/v1/keys", json=request, headers=root), 201))["key"]
        for name, request in (
            ("ops", {"name": "ops", "user_id": ops["id"]}),
            ("narrow", {"name": "narrow", "user_id": ops["id"], "scope": {"servers": ["web1"]}}),
        )
    }
    # The operator's own template on group apps (web1 only: in their scope), a schedule by each of their keys
    # and a trigger.
    template = {"name": "apps-uptime", "kind": "command", "command": "uptime", "timeout": 30, "group": "apps"}
    await ok_data(await client.post("/api/v1/templates", json=template, headers=bearer(keys["ops"])), 201)
    schedule_ids: dict[str, str] = {}
    for name in ("ops", "narrow"):
        body = {"name": f"by-{name}", "template": "apps-uptime", "cron": YEARLY, "overlap": "queue"}
        made = await ok_data(await client.post("/api/v1/schedules", json=body, headers=bearer(keys[name])), 201)
        schedule_ids[name] = made["id"]
    trigger = await ok_data(
        await client.post("/api/v1/templates/apps-uptime/triggers", json={}, headers=bearer(keys["ops"])), 201
    )
    sent = 0

    async def deliver(secret: str) -> Any:
        nonlocal sent
        sent += 1
        body = json.dumps({"n": sent}).encode()
        stamp = str(int(time.time()))
        headers = {SIGNATURE_HEADER: sign(secret, stamp, body), TIMESTAMP_HEADER: stamp}
        return await client.post(trigger["path"], data=body, headers={**headers, "Content-Type": "application/json"})

    async def tick(name: str) -> tuple[str, str | None]:
        def run() -> tuple[Fired | None, str | None]:
            due = Schedule.get_by_id(schedule_ids[name]).next_run_at
            fired = fire(schedule_ids[name], due, due, rt.vault, 3600)
            run = ScheduleRun.get((ScheduleRun.schedule_id == schedule_ids[name]) & (ScheduleRun.due_at == due))
            return fired, run.message

        fired, message = await rt.database.run(run)
        assert fired is not None
        return fired.outcome, message

    async def move(server: str, groups: list[str]) -> None:
        path = f"/api/v1/servers/{servers[server]}"
        await ok_data(await client.patch(path, json={"groups": groups}, headers=root))

    by_ops, by_narrow = f"schedule:{schedule_ids['ops']}", f"schedule:{schedule_ids['narrow']}"
    by_trigger = f"trigger:{trigger['id']}"

    # web2 joins apps: within the operator's scope (group web), outside the narrow key's own (web1 only).
    await move("web2", ["web", "apps"])
    assert await tick("ops") == ("launched", None)
    assert job_servers(raw_db, by_ops) == ["web1", "web2"]
    outcome, message = await tick("narrow")
    assert outcome == "failed" and message is not None
    assert "1 of the template's 2 target server(s) outside the owner's scope (web2)" in message
    assert job_servers(raw_db, by_narrow) == []
    launched = await ok_data(await deliver(trigger["secret"]), 201)
    assert len(launched["job_ids"]) == 2 and job_servers(raw_db, by_trigger) == ["web1", "web2"]

    # db1 joins apps: outside the operator's scope. The tick is recorded failed, the delivery refused; nothing runs.
    await move("db1", ["db", "apps"])
    outcome, message = await tick("ops")
    assert outcome == "failed" and message is not None and "outside the owner's scope (db1)" in message
    assert job_servers(raw_db, by_ops) == ["web1", "web2"]
    assert "outside its owner's scope" in await error_of(await deliver(trigger["secret"]), 403)
    assert job_servers(raw_db, by_trigger) == ["web1", "web2"]
    audit = "SELECT outcome, status, summary FROM audit_event WHERE actor = ? ORDER BY id DESC LIMIT 1"
    refused = query(raw_db, audit, by_trigger)[0]
    assert refused[0] == "refused" and refused[1] == 403 and "db1" in refused[2]

    # Back out of apps, the owner disabled: the delivery is refused too (403), nothing launched.
    await move("db1", ["db"])
    await ok_data(await client.patch(f"/api/v1/users/{ops['id']}", json={"disabled": True}, headers=root))
    assert "owner is disabled" in await error_of(await deliver(trigger["secret"]), 403)
    assert query(raw_db, audit, by_trigger)[0][:2] == ("refused", 403)
    assert job_servers(raw_db, by_trigger) == ["web1", "web2"]

    # Saved again by the unlimited administrator, it is theirs: db1 in apps again is launched.
    await move("db1", ["db", "apps"])
    await ok_data(await client.patch(f"/api/v1/triggers/{trigger['id']}", json={"enabled": True}, headers=root))
    launched = await ok_data(await deliver(trigger["secret"]), 201)
    assert len(launched["job_ids"]) == 3
    assert job_servers(raw_db, by_trigger) == ["db1", "web1", "web1", "web2", "web2"]
