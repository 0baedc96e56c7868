"""Settings changed while the service runs (app/runtime_settings.py), through GET/PATCH /api/v1/settings on SQLite
and PostgreSQL: the value in effect and where it comes from, all-or-nothing refusals, one audit row per change with
its actor and old → new values, a reset, and each registered setting acting at once."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import peewee as pw
import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from app import audit
from app.api.context import RUNTIME_KEY
from app.apikeys import create_key
from app.clock import utcnow
from app.models import (
    AuditEvent,
    BrowserSession,
    Job,
    Notification,
    NotificationAttempt,
    NotificationTarget,
    ScheduleRun,
    SigninFailure,
)
from app.runtime import Runtime
from app.runtime_settings import REGISTRY
from app.schemas.settings import SettingsPatch
from app.users import create_user
from tests.harness.wait import wait_until
from tests.helpers import error_of, ok_data
from tests.history import history_server, past_job

DEFAULT_TIMEOUT = 7 * 24 * 3600


def runtime_of(app: Quart) -> Runtime:
    runtime: Runtime = app.extensions[RUNTIME_KEY]
    return runtime


@pytest.fixture
def root_level() -> Iterator[None]:
    """The test process's log level as it was: a log_level change applies to the whole process."""
    root, peewee = logging.getLogger(), logging.getLogger("peewee")
    levels = root.level, peewee.level
    yield
    root.setLevel(levels[0])
    peewee.setLevel(levels[1])


def admin_key(app: Quart) -> tuple[dict[str, str], str]:
    def make() -> tuple[str, str]:
        made = create_key("ops", create_user("ops", "admin"))
        return made.key, made.record.id

    key, key_id = runtime_of(app).database.call(make)
    return {"Authorization": f"Bearer {key}"}, f"key:{key_id}"


def settings_rows(raw_db: pw.Database) -> dict[str, Any]:
    cursor = raw_db.execute_sql("SELECT name, value FROM runtime_setting ORDER BY name")
    return {name: json.loads(value) for name, value in cursor.fetchall()}


def change_rows(raw_db: pw.Database) -> list[tuple[str, str, dict[str, Any] | None, int | None]]:
    cursor = raw_db.execute_sql(
        "SELECT actor, outcome, summary, status FROM audit_event WHERE action = 'settings.change' ORDER BY id"
    )
    rows = cursor.fetchall()
    return [
        (actor, outcome, json.loads(summary) if summary else None, status) for actor, outcome, summary, status in rows
    ]


async def shown(client: Client, headers: dict[str, str]) -> dict[str, dict[str, Any]]:
    data = await ok_data(await client.get("/api/v1/settings", headers=headers))
    return {item["name"]: item for item in data["settings"]}


def test_the_request_model_names_exactly_the_registered_settings() -> None:
    assert list(SettingsPatch.model_fields) == list(REGISTRY)


async def test_change_show_refuse_and_reset_each_with_one_audit_row(
    app: Quart, client: Client, raw_db: pw.Database, root_level: None
) -> None:
    headers, actor = admin_key(app)
    before = await shown(client, headers)
    assert list(before) == list(REGISTRY)
    timeout = before["max_job_timeout"]
    assert (timeout["value"], timeout["source"], timeout["environment_value"]) == (DEFAULT_TIMEOUT, "default", 604800)
    assert (timeout["minimum"], timeout["maximum"], timeout["type"]) == (1, 365 * 24 * 3600, "integer")
    assert before["rate_limit"]["source"] == "environment" and before["rate_limit"]["value"] == 0  # tests set 0
    assert before["log_level"]["choices"] == ["debug", "info", "warning", "error"]

    changed = await ok_data(
        await client.patch("/api/v1/settings", json={"log_level": "debug", "max_job_timeout": 600}, headers=headers)
    )
    assert changed["changes"] == [  # in the registry's order
        {"name": "max_job_timeout", "old": DEFAULT_TIMEOUT, "new": 600},
        {"name": "log_level", "old": "info", "new": "debug"},
    ]
    now = await shown(client, headers)
    assert now == {item["name"]: item for item in changed["settings"]}
    assert (now["max_job_timeout"]["value"], now["max_job_timeout"]["source"]) == (600, "runtime")
    assert now["max_job_timeout"]["environment_value"] == DEFAULT_TIMEOUT
    assert now["max_job_timeout"]["changed_by"] == actor and now["max_job_timeout"]["changed_at"]
    assert settings_rows(raw_db) == {"log_level": "debug", "max_job_timeout": 600}
    assert logging.getLogger().level == logging.DEBUG  # in effect in this process at once
    assert change_rows(raw_db) == [
        (
            actor,
            "success",
            {"log_level": {"old": "info", "new": "debug"}, "max_job_timeout": {"old": DEFAULT_TIMEOUT, "new": 600}},
            200,
        )
    ]

    # Refused whole, naming what is wrong: nothing changes (the valid log_level beside it neither).
    refusals = [
        ({"max_job_timeout": 0, "log_level": "warning"}, "max_job_timeout: expected an integer in 1..31536000, got 0"),
        ({"log_level": "loud"}, "log_level: expected one of debug, info, warning, error, got 'loud'"),
        ({"log_level": "error", "shell_timeout": 5}, "shell_timeout"),
        ({"max_job_timeout": "60"}, "max_job_timeout"),
        ({"audit_retention_days": True}, "audit_retention_days"),
        ({"rate_limit": -1}, "rate_limit: expected an integer in 0..1000000, got -1"),
        ({}, "give at least one setting"),
    ]
    for body, message in refusals:
        assert message in await error_of(await client.patch("/api/v1/settings", json=body, headers=headers), 400)
    assert settings_rows(raw_db) == {"log_level": "debug", "max_job_timeout": 600}
    assert await shown(client, headers) == now
    rows = change_rows(raw_db)
    assert [outcome for _, outcome, _, _ in rows] == ["success"] + ["refused"] * len(refusals)
    assert {status for _, _, _, status in rows[1:]} == {400}

    # A reset: back to the environment's value, the row gone, one more audit row saying so.
    reset = await ok_data(await client.patch("/api/v1/settings", json={"max_job_timeout": None}, headers=headers))
    assert reset["changes"] == [{"name": "max_job_timeout", "old": 600, "new": DEFAULT_TIMEOUT}]
    after = await shown(client, headers)
    assert (after["max_job_timeout"]["value"], after["max_job_timeout"]["source"]) == (DEFAULT_TIMEOUT, "default")
    assert after["max_job_timeout"]["changed_by"] is None
    assert settings_rows(raw_db) == {"log_level": "debug"}
    last = change_rows(raw_db)[-1]
    assert last == (actor, "success", {"max_job_timeout": {"old": 600, "new": DEFAULT_TIMEOUT}}, 200)
    await ok_data(await client.patch("/api/v1/settings", json={"log_level": None}, headers=headers))
    assert logging.getLogger().level == logging.INFO
    assert len([row for row in change_rows(raw_db) if row[1] == "success"]) == 3


@pytest.mark.parametrize("db_kind", ["sqlite"])
async def test_each_registered_setting_takes_effect_without_a_restart(
    app: Quart, client: Client, raw_db: pw.Database, root_level: None
) -> None:
    runtime = runtime_of(app)
    tested: set[str] = set()

    async def patch(**values: Any) -> None:
        await ok_data(await client.patch("/api/v1/settings", json=values))
        tested.update(values)

    # max_job_timeout: the check comes before the server is looked up (a 404 here means the timeout passed).
    job = {"command": "true", "server_id": str(uuid.uuid4()), "timeout": 601}
    assert await error_of(await client.post("/api/v1/jobs", json=job), 404)
    await patch(max_job_timeout=600)
    assert await error_of(await client.post("/api/v1/jobs", json=job), 400) == "timeout: at most 600 seconds"

    # audit_retention_days: the pruner's next pass keeps or drops by the value in effect then.
    def old_row() -> int:
        entry = audit.Entry(actor="local:local", actor_kind="local", action="server.update", outcome="success")
        audit.record(entry)
        newest = AuditEvent.select(pw.fn.MAX(AuditEvent.id)).scalar()
        AuditEvent.update(at=utcnow() - timedelta(days=10)).where(AuditEvent.id == newest).execute()
        return int(newest)

    old = runtime.database.call(old_row)
    assert runtime.pruner is not None
    pruner = runtime.pruner
    wait_until(lambda: pruner.passes >= 1, 10, "the pruner thread's first pass")  # the next: in an hour
    assert runtime.pruner.run_pass() is not None
    assert runtime.database.call(lambda: AuditEvent.get_or_none(AuditEvent.id == old)) is not None  # 400 days
    await patch(audit_retention_days=5)
    swept = runtime.pruner.run_pass()
    assert swept is not None and [s.count for s in swept] == [0, 0, 0, 1, 0]
    assert runtime.database.call(lambda: AuditEvent.get_or_none(AuditEvent.id == old)) is None

    # output_retention_days, then job_retention_days: the output goes, then the job.
    ended = runtime.database.call(lambda: past_job(history_server(), days_ago=10))
    tick = runtime.database.call(
        lambda: (
            ScheduleRun.create(
                schedule_id=str(uuid.uuid4()), due_at=utcnow() - timedelta(days=10), outcome="launched", job_id=ended
            ).id
        )
    )
    assert [s.count for s in runtime.pruner.run_pass() or []] == [0, 0, 0, 0, 0]  # 0: kept forever
    await patch(output_retention_days=5)
    assert [s.count for s in runtime.pruner.run_pass() or []] == [1, 0, 0, 0, 0]
    assert runtime.database.call(lambda: Job.get_by_id(ended).output_pruned_at) is not None
    await patch(job_retention_days=5)
    assert [s.count for s in runtime.pruner.run_pass() or []] == [0, 1, 1, 0, 0]  # the job and its tick
    assert runtime.database.call(lambda: Job.get_or_none(Job.id == ended)) is None
    assert runtime.database.call(lambda: ScheduleRun.get_or_none(ScheduleRun.id == tick)) is None

    # notification_retention_days: delivered and dead deliveries go with their attempts; a pending one stays.
    def old_deliveries() -> dict[str, str]:
        target = NotificationTarget.create(name="old", url="http://127.0.0.1:9/", secret_enc="-", events="[]")
        made: dict[str, str] = {}
        for state in ("delivered", "dead", "pending"):
            row = Notification.create(
                target=target,
                event="job.failed",
                subject_id=str(uuid.uuid4()),
                idempotency_key=str(uuid.uuid4()),
                payload="{}",
                state=state,
                created_at=utcnow() - timedelta(days=40),
            )
            NotificationAttempt.create(notification=row, number=1, duration_ms=3, status=500)
            made[state] = row.id
        return made

    await patch(notification_retention_days=0)
    runtime.database.call(old_deliveries)
    assert [s.count for s in runtime.pruner.run_pass() or []] == [0, 0, 0, 0, 0]  # 0: kept forever
    await patch(notification_retention_days=30)
    assert [s.count for s in runtime.pruner.run_pass() or []] == [0, 0, 0, 0, 2]

    def left() -> tuple[set[str], int]:
        return {str(n.state) for n in Notification.select()}, NotificationAttempt.select().count()

    assert runtime.database.call(left) == ({"pending"}, 1)

    # log_level: this process's level (other processes: tests/e2e/test_runtime_settings_nodes.py).
    await patch(log_level="warning")
    assert logging.getLogger().level == logging.WARNING

    # job_rate_limit: one submission an hour; the second is refused before its handler runs.
    await patch(job_rate_limit=1)
    assert await error_of(await client.post("/api/v1/jobs", json={**job, "timeout": 60}), 404)
    assert await error_of(await client.post("/api/v1/jobs", json={**job, "timeout": 60}), 429)

    # rate_limit last: three requests a minute, then 429 (the PATCH itself is not counted: it set the limit).
    await patch(rate_limit=3)
    statuses = [(await client.get("/api/v1/settings")).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert tested == set(REGISTRY) - SIGNIN_SETTINGS  # the rest: the test below


SIGNIN_SETTINGS = {
    "session_idle_minutes",
    "session_max_hours",
    "signin_user_failures",
    "signin_address_failures",
    "signin_window_minutes",
}


@pytest.mark.parametrize("db_kind", ["sqlite"])
async def test_session_and_sign_in_settings_take_effect_without_a_restart(app: Quart, raw_db: pw.Database) -> None:
    """A signed-in page's session and the next sign-in follow the values changed at runtime."""
    headers, _ = admin_key(app)
    client = app.test_client(use_cookies=False)
    password = "correct horse battery staple 7"
    runtime_of(app).database.call(create_user, "alice", "viewer", password)
    tested: set[str] = set()

    async def patch(**values: Any) -> None:
        await ok_data(await client.patch("/api/v1/settings", json=values, headers=headers))
        tested.update(values)

    async def sign_in(name: str, secret: str, address: str = "192.0.2.1") -> Any:
        return await client.post(
            "/auth/signin", json={"username": name, "password": secret}, scope_base={"client": (address, 40000)}
        )

    def session_of(response: Any) -> dict[str, str]:
        header = next(v for v in response.headers.getlist("Set-Cookie") if v.startswith("newremora_session="))
        return {"Cookie": header.split(";", 1)[0]}

    def age(column: str, by: timedelta) -> None:
        with raw_db.bind_ctx([BrowserSession]):  # through the model: stored as the app stores times
            BrowserSession.update({getattr(BrowserSession, column): utcnow() - by}).execute()

    cookie = session_of(await sign_in("alice", password))
    age("last_seen_at", timedelta(minutes=20))
    await ok_data(await client.get("/api/v1/me", headers=cookie))  # the default: an hour idle
    age("last_seen_at", timedelta(minutes=20))
    await patch(session_idle_minutes=10)
    assert await error_of(await client.get("/api/v1/me", headers=cookie), 401)

    cookie = session_of(await sign_in("alice", password))
    age("created_at", timedelta(hours=3))
    await ok_data(await client.get("/api/v1/me", headers=cookie))  # the default: twelve hours
    await patch(session_max_hours=2)
    assert await error_of(await client.get("/api/v1/me", headers=cookie), 401)

    await patch(signin_user_failures=1)
    assert await error_of(await sign_in("alice", "wrong guess 1"), 401)
    assert await error_of(await sign_in("alice", password, "192.0.2.2"), 429)  # one failure locks alice out now
    await patch(signin_window_minutes=1)
    with raw_db.bind_ctx([SigninFailure]):
        SigninFailure.update(at=utcnow() - timedelta(minutes=2)).execute()
    await ok_data(await sign_in("alice", password, "192.0.2.2"))  # aged out of the one-minute window

    await patch(signin_user_failures=None, signin_address_failures=1)
    assert await error_of(await sign_in("nobody", "wrong guess 2", "198.51.100.7"), 401)
    assert await error_of(await sign_in("alice", password, "198.51.100.7"), 429)  # that address is locked out now
    assert tested == SIGNIN_SETTINGS
