"""Retention (app/retention.py) through ``newremora prune`` run as a process, on SQLite and PostgreSQL: old ended
jobs go with their output, older output goes while its job stays (and says so), young and active jobs stay, a job
whose batch is still active stays, the dry run says the same numbers and deletes nothing; on PostgreSQL a prune
while another process holds the pruning lock is refused and deletes nothing."""

from __future__ import annotations

import getpass
import json
from datetime import timedelta
from typing import Any

import peewee as pw
import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from app import audit
from app.api.context import RUNTIME_KEY
from app.clock import utcnow
from app.models import AuditEvent
from app.retention import PRUNE_LOCK_KEY
from app.runtime import Runtime
from app.settings import Settings
from tests.harness.cli import newremora
from tests.helpers import ok_data
from tests.history import history_server, past_job

pytestmark = pytest.mark.slow  # admin commands as processes


def cli_env(settings: Settings) -> dict[str, str]:
    assert settings.secret_key is not None
    return {
        "NEWREMORA_DATA_DIR": str(settings.data_dir),
        "NEWREMORA_DATABASE_URL": settings.effective_database_url,
        "NEWREMORA_SECRET_KEY": settings.secret_key.reveal(),
    }


def stored(raw_db: pw.Database) -> dict[str, Any]:
    """Each job's status, whether its output was pruned and its chunk count; and the old audit row's count."""
    jobs = raw_db.execute_sql(
        "SELECT j.id, j.status, j.output_pruned_at IS NOT NULL,"
        " (SELECT COUNT(*) FROM job_chunk c WHERE c.job_id = j.id) FROM job j"
    ).fetchall()
    old_rows = raw_db.execute_sql("SELECT COUNT(*) FROM audit_event WHERE action = 'server.update'").fetchone()
    return {
        "jobs": {job_id: (status, bool(pruned), int(chunks)) for job_id, status, pruned, chunks in jobs},
        "old_audit_rows": int(old_rows[0]),
    }


def prune(settings: Settings, *flags: str) -> tuple[int, list[str], str]:
    done = newremora("prune", *flags, env=cli_env(settings), timeout=60)
    return done.returncode, done.stdout.splitlines(), done.stderr


async def test_prune_and_its_dry_run_keep_young_and_active_jobs(
    app: Quart, client: Client, raw_db: pw.Database, settings: Settings, db_kind: str
) -> None:
    runtime: Runtime = app.extensions[RUNTIME_KEY]
    assert runtime.pruner is not None
    runtime.pruner.stop()  # this test's passes are the command's alone

    def history() -> dict[str, str]:
        server = history_server()
        made = {
            "gone": past_job(server, 100),
            "gone_too": past_job(server, 70, status="canceled", chunks=0, exit_code=None),
            "stripped": past_job(server, 40, status="failed", exit_code=3),
            "young": past_job(server, 1),
            "active": past_job(server, 100, status="running"),
            "held": past_job(server, 100, batch_id="b-1"),
            "held_sibling": past_job(server, 100, status="queued", batch_id="b-1", chunks=0),
        }
        audit.record(audit.Entry(actor="local:local", actor_kind="local", action="server.update", outcome="success"))
        AuditEvent.update(at=utcnow() - timedelta(days=500)).where(AuditEvent.action == "server.update").execute()
        return made

    ids = runtime.database.call(history)
    # The runtime values the service uses, not the environment's (0: forever): the command reads them too.
    await ok_data(await client.patch("/api/v1/settings", json={"job_retention_days": 60, "output_retention_days": 30}))
    before = stored(raw_db)

    code, lines, stderr = prune(settings, "--dry-run")
    assert code == 0, stderr
    assert lines[0] == "dry run: nothing is deleted"
    assert lines[1].startswith("job output: 3 would go (older than 30 days: ")  # gone, gone_too, stripped
    assert lines[2].startswith("ended jobs: 2 would go (older than 60 days: ")  # gone, gone_too
    assert lines[3] == "schedule runs: none older than 60 days"
    assert lines[4].startswith("audit rows: 1 would go (older than 400 days: ")
    assert stored(raw_db) == before

    if db_kind == "postgresql":
        # Another process pruning (the lock held by another session): refused, nothing deleted.
        raw_db.execute_sql("SELECT pg_advisory_lock(%s)", (PRUNE_LOCK_KEY,))
        try:
            code, lines, stderr = prune(settings)
            assert code == 2 and "another process is pruning this database now" in stderr, (lines, stderr)
            assert stored(raw_db) == before
        finally:
            raw_db.execute_sql("SELECT pg_advisory_unlock(%s)", (PRUNE_LOCK_KEY,))

    code, lines, stderr = prune(settings)
    assert code == 0, stderr
    assert lines[0].startswith("job output: 3 went (older than 30 days: ")
    assert lines[1].startswith("ended jobs: 2 went (older than 60 days: ")
    assert lines[2] == "schedule runs: none older than 60 days"
    assert lines[3].startswith("audit rows: 1 went (older than 400 days: ")
    after = stored(raw_db)["jobs"]
    assert set(after) == set(before["jobs"]) - {ids["gone"], ids["gone_too"]}
    assert before["old_audit_rows"] == 1 and stored(raw_db)["old_audit_rows"] == 0
    assert after[ids["stripped"]] == ("failed", True, 0)
    for name in ("young", "active", "held"):
        assert after[ids[name]] == (before["jobs"][ids[name]][0], False, 2), name

    # The job's answer says its output went; its status, exit code and size stay.
    job = await ok_data(await client.get(f"/api/v1/jobs/{ids['stripped']}"))
    assert (job["status"], job["exit_code"], job["output_bytes"], job["output"]) == ("failed", 3, 12, "")
    assert job["output_pruned_at"] is not None
    listed = await ok_data(await client.get("/api/v1/jobs?status=failed"))
    assert [j["output_pruned_at"] for j in listed["jobs"]] == [job["output_pruned_at"]]
    young = await ok_data(await client.get(f"/api/v1/jobs/{ids['young']}"))
    assert young["output_pruned_at"] is None and young["output"] == "hello\nhello\n"

    # One audit row for the prune itself, with the counts.
    row = raw_db.execute_sql("SELECT actor, summary FROM audit_event WHERE action = 'retention.prune'").fetchall()
    assert [(actor, json.loads(summary)) for actor, summary in row] == [
        (f"cli:{getpass.getuser()}", {"output": 3, "jobs": 2, "schedule_runs": 0, "audit": 1, "deliveries": 0})
    ]

    code, lines, _ = prune(settings, "--dry-run")
    assert lines[1:] == [
        "job output: none older than 30 days",
        "ended jobs: none older than 60 days",
        "schedule runs: none older than 60 days",
        "audit rows: none older than 400 days",
        "notification deliveries: none older than 30 days",
    ]
