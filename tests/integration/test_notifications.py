"""The outbox on both databases: a job's end queues one row per matching target (its events, its template, enabled
ones only) in the transaction of the end itself, a batch's end once after its last job, never twice for one event
and target; the delivery pass leases, POSTs signed bodies to a real receiver and records the attempts; bad input
is refused with nothing changed, and the secret is shown once, then never (answers, audit rows)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import peewee as pw
import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from app.api.context import RUNTIME_KEY
from app.notifications.delivery import Deliverer
from app.notifications.outbox import queue_ended
from app.runtime import Runtime
from app.templates import create_template, launch_template
from tests.harness.webhook import Receiver
from tests.helpers import create_server, error_of, ok_data, password_server

TARGETS = "/api/v1/notification-targets"


async def _create(client: Client, **body: Any) -> dict[str, Any]:
    created: dict[str, Any] = await ok_data(await client.post(TARGETS, json=body), 201)
    return created


async def _deliveries(client: Client, target_id: str) -> list[dict[str, Any]]:
    page = await ok_data(await client.get(f"{TARGETS}/{target_id}/deliveries"))
    found: list[dict[str, Any]] = page["deliveries"]
    return found


async def test_job_and_batch_ends_fill_the_outbox_and_a_pass_delivers_them(
    app: Quart, client: Client, raw_db: pw.Database
) -> None:
    runtime: Runtime = app.extensions[RUNTIME_KEY]
    first = await create_server(client, password_server("notify-01"))
    second = await create_server(client, password_server("notify-02"))
    definition = {"kind": "command", "command": "true", "timeout": 30, "server_id": first["id"]}
    template = await runtime.database.run(create_template, "nightly", definition, "local:local")
    receiver = Receiver({"/all": [200], "/tpl": [503, 200]})
    with receiver.running():
        everything = await _create(
            client,
            name="all",
            url=f"{receiver.url}/all",
            events=["job.canceled", "batch.canceled", "batch.failed"],
            secret="0123456789abcdef-all",
        )
        only_template = await _create(
            client, name="tpl", url=f"{receiver.url}/tpl", events=["job.canceled"], template_id=template.id
        )
        disabled = await _create(client, name="off", url=f"{receiver.url}/off", events=["job.canceled"], enabled=False)
        assert len(only_template["secret"]) >= 32  # a random one, shown this once
        listed = await client.get(TARGETS)
        shown = await client.get(f"{TARGETS}/{only_template['id']}")
        for answer in (listed, shown):
            assert only_template["secret"] not in await answer.get_data(as_text=True)

        # A batch of two queued jobs, canceled one after the other; then a template's job, canceled.
        batch = await ok_data(
            await client.post("/api/v1/jobs", json={"server_ids": [first["id"], second["id"]], "command": "true"}),
            201,
        )
        batch_jobs = [job["id"] for job in batch["jobs"]]
        await ok_data(await client.post(f"/api/v1/jobs/{batch_jobs[0]}/cancel"))
        assert [d["event"] for d in await _deliveries(client, everything["id"])] == ["job.canceled"]
        await ok_data(await client.post(f"/api/v1/jobs/{batch_jobs[1]}/cancel"))

        def launch() -> str:
            launched = launch_template(
                template.id, {}, vault=runtime.vault, max_timeout=3600, submitted_by="schedule:x"
            )
            return str(launched.jobs[0].id)

        launched_id = await runtime.database.run(launch)
        await ok_data(await client.post(f"/api/v1/jobs/{launched_id}/cancel"))

        queued = await _deliveries(client, everything["id"])
        by_event = sorted((d["event"], d["subject_id"]) for d in queued)
        assert by_event == sorted(
            [("job.canceled", job_id) for job_id in [*batch_jobs, launched_id]]
            + [("batch.canceled", batch["batch_id"])]
        )
        assert [(d["event"], d["subject_id"]) for d in await _deliveries(client, only_template["id"])] == [
            ("job.canceled", launched_id)
        ]
        assert await _deliveries(client, disabled["id"]) == []
        # An end seen again queues nothing more: the idempotency key is unique per event and target.
        before = raw_db.execute_sql("SELECT COUNT(*) FROM notification").fetchone()[0]
        await runtime.database.run(queue_ended, [*batch_jobs, launched_id])
        assert raw_db.execute_sql("SELECT COUNT(*) FROM notification").fetchone()[0] == before == 5

        # A delivery pass (a worker process's thread does the same): signed POSTs, attempts recorded.
        deliverer = Deliverer(runtime.settings.replace(notify_backoff=1), runtime.database, runtime.vault)

        def one_pass() -> bool:
            with httpx.Client(timeout=10) as http:
                return deliverer.run_pass(http)

        assert await asyncio.to_thread(one_pass)
        posts = receiver.on("/all")
        assert len(posts) == 4 and all(p.signed_by("0123456789abcdef-all") for p in posts)
        batch_post = next(p.json() for p in posts if p.headers["x-newremora-event"] == "batch.canceled")
        assert batch_post["batch"]["counts"]["canceled"] == 2 and batch_post["url"].endswith(
            f"/#/jobs?batch_id={batch['batch_id']}"
        )
        assert {d["state"] for d in await _deliveries(client, everything["id"])} == {"delivered"}
        (failed,) = await _deliveries(client, only_template["id"])
        assert (failed["state"], failed["attempts"]) == ("pending", 1)
        assert [(a["status"], a["error"]) for a in failed["attempt_log"]] == [(503, "HTTP 503")]
        # Not due yet (backed off): a pass now sends nothing more.
        await asyncio.to_thread(one_pass)
        assert len(receiver.on("/tpl")) == 1

        # A test event: queued whatever the events, sent by the next pass.
        test = await ok_data(await client.post(f"{TARGETS}/{everything['id']}/test"), 202)
        assert (test["event"], test["state"]) == ("test", "pending")
        await asyncio.to_thread(one_pass)
        assert receiver.on("/all")[-1].headers["x-newremora-event"] == "test"

    # The secret given is in no audit row; the rows name the targets.
    rows = raw_db.execute_sql("SELECT action, summary FROM audit_event WHERE object_type = 'notification_target'")
    found = rows.fetchall()
    assert {action for action, _ in found} == {"notification_target.create", "notification_target.test"}
    assert not any("0123456789abcdef-all" in (summary or "") for _, summary in found)


@pytest.mark.parametrize("db_kind", ["sqlite"])
async def test_bad_targets_are_refused_and_change_nothing(client: Client, raw_db: pw.Database) -> None:
    good = {"name": "ok", "url": "http://127.0.0.1:9/hook", "events": ["job.failed"]}
    created = await _create(client, **good)
    refusals = [
        ({**good, "name": "a", "url": "ftp://127.0.0.1/x"}, "url"),
        ({**good, "name": "b", "url": "http://user:pw@127.0.0.1/x"}, "user or password"),
        ({**good, "name": "c", "events": ["job.exploded"]}, "events"),
        ({**good, "name": "d", "events": []}, "events"),
        ({**good, "name": "e", "events": ["job.failed", "job.failed"]}, "each event once"),
        ({**good, "name": "f", "format": "xml"}, "format"),
        ({**good, "name": "g", "secret": "short"}, "secret"),
        ({**good, "name": "h", "template_id": "4b0f6a9e-0000-4000-8000-000000000000"}, "no such template"),
    ]
    for body, named in refusals:
        assert named in await error_of(await client.post(TARGETS, json=body), 400), body
    assert "exists" in await error_of(await client.post(TARGETS, json=good), 409)
    assert "may not be null" in await error_of(
        await client.patch(f"{TARGETS}/{created['id']}", json={"enabled": None}), 400
    )
    await error_of(await client.get(f"{TARGETS}/not-an-id"), 404)
    await error_of(await client.post(f"{TARGETS}/4b0f6a9e-0000-4000-8000-000000000000/test"), 404)
    assert raw_db.execute_sql("SELECT name FROM notification_target").fetchall() == [("ok",)]
    changed = await ok_data(await client.patch(f"{TARGETS}/{created['id']}", json={"enabled": False}))
    assert changed["enabled"] is False and changed["events"] == ["job.failed"]
    assert (await ok_data(await client.delete(f"{TARGETS}/{created['id']}")))["deleted"] is True
    assert raw_db.execute_sql("SELECT COUNT(*) FROM notification_target").fetchone()[0] == 0
