"""The schedule test that must hold: two schedules every 4 seconds (6-field cron) on PostgreSQL, shared by two
`serve` and two `worker` processes (all four tick), counted by side effects on the target. Each tick launches
exactly once; all processes stopped across more than two ticks, then started again: `run_once` launches one
catch-up, `skip` none (one skipped_missed run says why)."""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.db import Database
from app.templates import create_template
from tests.harness.cli import run_command
from tests.harness.service import Service
from tests.harness.sshd import SshTarget
from tests.harness.wait import wait_until

pytestmark = pytest.mark.slow

EVERY_S = 4
CRON = f"*/{EVERY_S} * * * * *"


def start_all(tmp_path: Path, env: dict[str, str], round_: int) -> list[Service]:
    started: list[Service] = []
    for i in range(2):
        started.append(Service.start(tmp_path / f"serve-{round_}-{i}", env, ("serve",)))
    for i in range(2):
        started.append(Service.start(tmp_path / f"worker-{round_}-{i}", env, ("worker", "--threads", "2")))
    return started


@pytest.fixture
def services() -> Iterator[list[Service]]:
    running: list[Service] = []
    try:
        yield running
    finally:
        for service in running:
            service.stop()


def runs(http: httpx.Client, schedule_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = http.get(f"/api/v1/schedules/{schedule_id}/runs").json()["data"]["runs"]
    return sorted(found, key=lambda run: run["due_at"])


def status_of(http: httpx.Client, job_id: str) -> str:
    return str(http.get(f"/api/v1/jobs/{job_id}").json()["data"]["status"])


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_each_tick_fires_once_and_restarts_honour_the_missed_policy(
    tmp_path: Path, pg_env: dict[str, str], sshd: SshTarget, services: list[Service]
) -> None:
    services += start_all(tmp_path, pg_env, 0)
    ledgers = {policy: f"sched-{policy}-{uuid.uuid4().hex[:8]}" for policy in ("run_once", "skip")}
    database = Database(pg_env["NEWREMORA_DATABASE_URL"], threads=1)
    ids: dict[str, str] = {}
    with httpx.Client(base_url=services[0].base_url, timeout=30) as http:
        server = http.post("/api/v1/servers", json=sshd.server_body("sched-target")).json()["data"]["id"]
        try:
            for policy, ledger in ledgers.items():
                definition = {
                    "kind": "command",
                    "command": f"date +%s >> ~/{ledger}",
                    "timeout": 30,
                    "server_id": server,
                }
                database.call(create_template, f"append-{policy}", definition, "local:local")
                body = {
                    "name": f"every-{policy}",
                    "template": f"append-{policy}",
                    "cron": CRON,
                    "overlap": "queue",
                    "missed": policy,
                }
                created = http.post("/api/v1/schedules", json=body)
                assert created.status_code == 201, created.text
                ids[policy] = created.json()["data"]["id"]
        finally:
            database.close()

        # 1. Five ticks with four ticking processes: one launch each, on consecutive ticks.
        for schedule_id in ids.values():
            wait_until(partial(runs, http, schedule_id), 60, "five launches", 0.3, done=lambda r: len(r) >= 5)
        for service in services:
            service.stop()
        stopped_at = datetime.now().astimezone()
    services.clear()

    # 2. Down across more than two ticks (the clock is what this waits for), then everything again.
    wait_until(
        lambda: time.time(), 30, "three ticks to pass", 0.5, done=lambda now: now > stopped_at.timestamp() + 3 * EVERY_S
    )
    services += start_all(tmp_path, pg_env, 1)
    with httpx.Client(base_url=services[0].base_url, timeout=30) as http:
        restarted = datetime.now().astimezone()

        def after_restart(schedule_id: str) -> list[dict[str, Any]]:
            return [run for run in runs(http, schedule_id) if when(run["fired_at"]) >= stopped_at]

        for schedule_id in ids.values():
            wait_until(
                partial(after_restart, schedule_id),
                60,
                "two runs after the restart",
                0.3,
                done=lambda found: len([r for r in found if r["outcome"] == "launched"]) >= 1 and len(found) >= 2,
            )
        for schedule_id in ids.values():
            assert http.patch(f"/api/v1/schedules/{schedule_id}", json={"enabled": False}).status_code == 200

        for policy, schedule_id in ids.items():
            history = runs(http, schedule_id)
            launched = [run for run in history if run["outcome"] == "launched"]
            job_ids = [run["job_id"] for run in launched]
            # Every launched job ends; the target holds one line per launch, no more.
            for job_id in job_ids:
                wait_until(
                    partial(status_of, http, job_id),
                    60,
                    f"job {job_id} to end",
                    0.3,
                    done=lambda s: s in ("completed", "failed", "canceled"),
                )
            statuses = [http.get(f"/api/v1/jobs/{j}").json()["data"]["status"] for j in job_ids]
            lines = (sshd.user.home / ledgers[policy]).read_text().split()
            assert len(lines) == statuses.count("completed") == len(launched), (policy, history, statuses)
            # Before the stop: consecutive ticks, each once (the UNIQUE row makes a double impossible; a gap would
            # be a tick lost).
            early = [when(run["due_at"]) for run in history if when(run["fired_at"]) < stopped_at]
            assert all(b - a == timedelta(seconds=EVERY_S) for a, b in itertools.pairwise(early)), early
            assert len(early) >= 5
            late = [run for run in history if when(run["fired_at"]) >= stopped_at]
            first = late[0]
            if policy == "run_once":
                assert first["outcome"] == "launched" and first["message"].startswith("catch-up"), late
            else:
                assert first["outcome"] == "skipped_missed" and "missed" in first["message"], late
            # After the catch-up (or the skip): the ticks go on from the restart, once each.
            assert [run["outcome"] for run in late[1:]] == ["launched"] * (len(late) - 1), late
            assert all(when(run["due_at"]) >= restarted - timedelta(seconds=EVERY_S) for run in late[1:]), late
            assert sum(run["message"] is not None and run["message"].startswith("catch-up") for run in history) == (
                1 if policy == "run_once" else 0
            )

        # The CLI over the same API: list, enable, disable, delete.
        cli = {"NEWREMORA_URL": services[1].base_url}
        listed = run_command(cli, tmp_path, "schedules", "list")
        assert "every-run_once" in listed and "every-skip" in listed and "launched" in listed
        assert "enabled, next run" in run_command(cli, tmp_path, "schedules", "enable", "every-skip")
        assert "disabled" in run_command(cli, tmp_path, "schedules", "disable", "every-skip")
        run_command(cli, tmp_path, "schedules", "delete", "every-skip")
        assert "every-skip" not in run_command(cli, tmp_path, "schedules", "list")
