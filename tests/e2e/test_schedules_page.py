"""The #/schedules view in headless Chromium against a real service on PostgreSQL: the template chosen from a
select of the templates' names, its typed parameters as a form; a bad time zone's 400 shown, a schedule created
from the form with its next run and the values given, its recent runs listed once it fired, then disabled."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Dialog, expect

from tests.harness.service import Service
from tests.harness.sshd import SshTarget
from tests.harness.wait import wait_until

pytestmark = pytest.mark.slow


def runs(http: httpx.Client, name: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = http.get(f"/api/v1/schedules/{name}/runs").json()["data"]["runs"]
    return found


def test_schedules_page(browser: Browser, tmp_path: Path, pg_env: dict[str, str], sshd: SshTarget) -> None:
    service = Service.start(tmp_path / "svc", pg_env)
    errors: list[str] = []
    try:
        with httpx.Client(base_url=service.base_url, timeout=30) as http:
            server = http.post("/api/v1/servers", json=sshd.server_body("page-target")).json()["data"]["id"]
            parameters = [
                {"name": "name", "type": "string", "required": True},  # as the form's own field: kept apart
                {"name": "loud", "type": "boolean"},
                {"name": "level", "type": "choice", "choices": ["low", "high"], "default": "low"},
            ]
            definition = {"kind": "command", "command": "true", "timeout": 30, "server_id": server}
            for body in ({**definition, "name": "noop", "parameters": parameters}, {**definition, "name": "other"}):
                http.post("/api/v1/templates", json=body).raise_for_status()
            page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("dialog", Dialog.accept)
            page.goto(f"{service.base_url}/#/schedules")
            expect(page.locator("nav").get_by_role("link", name="Schedules")).to_be_visible()
            expect(page.locator("#schedules-empty")).to_be_visible()

            form = page.locator("#schedule-form")
            form.locator("#schedule-name").fill("often")
            template = form.locator("#schedule-template")
            expect(template.locator("option")).to_have_text(["choose a template", "noop", "other"])
            expect(page.locator("#schedule-parameters")).to_be_hidden()
            template.select_option("noop")
            fields = page.locator("#schedule-parameter-fields")
            expect(fields.locator("[data-type]")).to_have_count(3)
            fields.locator("[name=name]").fill("ann")
            fields.locator("[name=loud]").check()
            fields.locator("[name=level]").select_option("high")
            form.locator("#schedule-cron").fill("*/2 * * * * *")
            form.locator("#schedule-timezone").fill("Mars/Olympus")
            form.locator("#schedule-overlap").select_option("queue")
            page.click("#schedule-create")
            expect(page.locator("#schedules-error")).to_contain_text("unknown time zone")
            form.locator("#schedule-timezone").fill("Europe/Berlin")
            page.click("#schedule-create")
            row = page.locator("#schedule-rows tr[data-schedule='often']")
            expect(row).to_have_attribute("data-enabled", "true")
            expect(row.locator(".next-run")).not_to_have_text("\u2013")

            wait_until(partial(runs, http, "often"), 30, "a run of the schedule", 0.3, done=bool)
            row.locator(".schedule-runs").click()
            expect(page.locator("#schedule-run-rows tr[data-outcome='launched']").first).to_be_visible()

            row.locator(".toggle-schedule").click()
            expect(page.locator("#schedule-rows tr[data-schedule='often']")).to_have_attribute("data-enabled", "false")
            saved = http.get("/api/v1/schedules/often").json()["data"]
            assert saved["next_run_at"] is None
            assert saved["parameters"] == {"name": "ann", "loud": True, "level": "high"}
        assert errors == []
    finally:
        service.stop()
