"""Scopes through a real service on PostgreSQL, with real jobs on a real sshd and the page in Chromium: an operator
limited to group web runs a group job there and streams it, while the jobs, batches and servers of group db stay
invisible (404 as missing, left out of listings and counts), a batch naming one of them is refused whole, and
their page lists only what is in scope."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Dialog, expect

from tests.e2e.jobs_api import finished, wait_for
from tests.harness.cli import run_command as cli
from tests.harness.service import Service
from tests.harness.sshd import SshTarget
from tests.harness.wait import wait_until

pytestmark = pytest.mark.slow

PAGE_MS = 15_000


def api(service: Service, key: str) -> httpx.Client:
    return httpx.Client(base_url=service.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30)


def data(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()["data"]


def test_an_operator_limited_to_web_runs_and_sees_only_web(
    browser: Browser, sshd: SshTarget, pg_env: dict[str, str], services: list[Service], tmp_path: Path
) -> None:
    cli(pg_env, tmp_path, "user", "create", "root", "--role", "admin", "--no-password")
    cli(pg_env, tmp_path, "user", "create", "bob", "--role", "operator", "--no-password")
    root_key = cli(pg_env, tmp_path, "token", "create", "--name", "r", "--user", "root").strip().splitlines()[-1]
    bob_key = cli(pg_env, tmp_path, "token", "create", "--name", "b", "--user", "bob").strip().splitlines()[-1]
    service = Service.start(tmp_path / "svc", pg_env)
    services.append(service)

    with api(service, root_key) as root, api(service, bob_key) as bob:
        ids = {
            name: data(root.post("/api/v1/servers", json={**sshd.server_body(name), "groups": [group]}), 201)["id"]
            for name, group in (("web-01", "web"), ("web-02", "web"), ("db-01", "db"))
        }
        cli(pg_env, tmp_path, "user", "scope", "bob", "--group", "web")
        # The service hears of a change made by another process within LIVE_KEYS_TTL_S.
        wait_until(
            lambda: len(data(bob.get("/api/v1/servers"))["servers"]), 30, "bob limited to web", done=lambda n: n == 2
        )
        db_job = data(root.post("/api/v1/jobs", json={"server_id": ids["db-01"], "command": "echo db-only"}), 201)["id"]
        mixed = data(root.post("/api/v1/jobs", json={"server_ids": list(ids.values()), "command": "true"}), 201)
        wait_for(root, db_job, finished)

        # bob's group job runs on web's servers, and he reads and streams it to its end.
        batch = data(bob.post("/api/v1/jobs", json={"group": "web", "command": "echo from-web"}), 201)
        assert {job["server_id"] for job in batch["jobs"]} == {ids["web-01"], ids["web-02"]}
        for job in batch["jobs"]:
            assert wait_for(bob, job["id"], finished)["status"] == "completed"
        first = batch["jobs"][0]["id"]
        assert "from-web" in bob.get(f"/api/v1/jobs/{first}/logs").text
        with bob.stream("GET", f"/api/v1/jobs/{first}/stream") as events:
            assert events.status_code == 200
            assert "event: complete" in "".join(events.iter_text())
        assert data(bob.get(f"/api/v1/batches/{batch['batch_id']}"))["status"] == "completed"

        # Group db's job and server, and the batch touching db-01, do not exist for him.
        for path in (
            f"/api/v1/jobs/{db_job}",
            f"/api/v1/jobs/{db_job}/logs",
            f"/api/v1/jobs/{db_job}/stream",
            f"/api/v1/servers/{ids['db-01']}",
        ):
            assert bob.get(path).status_code == 404, path
        assert bob.get(f"/api/v1/batches/{mixed['batch_id']}").status_code == 404
        assert bob.post(f"/api/v1/jobs/{db_job}/cancel").status_code == 404
        assert bob.post(f"/api/v1/jobs/{db_job}/duplicate").status_code == 404
        assert data(bob.get("/api/v1/jobs", params={"search": "db-only"}))["pagination"]["total"] == 0
        assert data(bob.get("/api/v1/system/info"))["total_servers"] == 2
        before = data(root.get("/api/v1/jobs"))["pagination"]["total"]
        refused = bob.post("/api/v1/jobs", json={"server_ids": [ids["web-01"], ids["db-01"]], "command": "true"})
        assert refused.status_code == 404 and refused.json()["error"] == "Server not found"
        assert data(root.get("/api/v1/jobs"))["pagination"]["total"] == before  # refused whole: nothing created
        visible_jobs = {job["id"] for job in data(bob.get("/api/v1/jobs", params={"limit": 100}))["jobs"]}

    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("dialog", Dialog.accept)
    try:
        page.goto(f"{service.base_url}/#/servers")
        page.fill("#key-input", bob_key)
        page.click("#key-ok")
        expect(page.locator("#me-who")).to_have_text("bob · limited to: web", timeout=PAGE_MS)
        expect(page.locator("#servers-rows tr[data-server]")).to_have_count(2, timeout=PAGE_MS)
        expect(page.locator("#servers-rows tr[data-server='db-01']")).to_have_count(0)
        page.get_by_role("link", name="Jobs").click()
        expect(page.locator("#jobs-rows tr[data-job]")).to_have_count(len(visible_jobs), timeout=PAGE_MS)
        shown = set(page.locator("#jobs-rows tr[data-job]").evaluate_all("rows => rows.map(r => r.dataset.job)"))
        assert shown == visible_jobs and db_job not in shown
        assert errors == []
    finally:
        page.context.close()
