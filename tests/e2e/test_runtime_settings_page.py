"""The #/settings view in Debian's headless Chromium against a real service: an administrator changes a setting
(the API's 400 shown first), finds it kept after a reload, sees the change in the audit view and resets it; a
retention set there is applied by ``newremora prune`` and the job's page says its output went; a viewer is not
offered the view."""

from __future__ import annotations

import tempfile
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from playwright.sync_api import Browser, Dialog, Page, expect

from app.db import Database
from tests.harness.cli import run_command as cli
from tests.harness.service import Service
from tests.history import history_server, past_job

pytestmark = pytest.mark.slow


def open_with_key(browser: Browser, base_url: str, key: str, errors: list[str], where: str) -> Page:
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("dialog", Dialog.accept)
    page.goto(f"{base_url}/{where}")
    page.fill("#key-input", key)
    page.click("#key-ok")
    return page


def test_an_administrator_changes_a_setting_and_finds_it_kept_and_audited(
    browser: Browser, tmp_path: Path, control_root: Path
) -> None:
    env = {
        "NEWREMORA_DATA_DIR": str(tmp_path / "var"),
        "NEWREMORA_SECRET_KEY": Fernet.generate_key().decode(),
        "NEWREMORA_CONTROL_DIR": tempfile.mkdtemp(dir=control_root),
        "NEWREMORA_RATE_LIMIT": "0",
    }
    cli(env, tmp_path, "migrate")
    cli(env, tmp_path, "user", "create", "root", "--role", "admin", "--no-password")
    cli(env, tmp_path, "user", "create", "vic", "--role", "viewer", "--no-password")
    made = cli(env, tmp_path, "token", "create", "--name", "root-laptop", "--user", "root")
    admin_key, admin_key_id = made.strip().splitlines()[-1], made.split()[2]
    viewer_key = cli(env, tmp_path, "token", "create", "--name", "vic", "--user", "vic").strip().splitlines()[-1]
    # An ended job of 40 days ago with output, for the output retention below.
    history = Database(f"sqlite:///{tmp_path / 'var' / 'newremora.db'}", threads=1)
    try:
        old_job = history.call(lambda: past_job(history_server(), days_ago=40))
    finally:
        history.close()
    service = Service.start(tmp_path / "svc", env)
    errors: list[str] = []
    page = open_with_key(browser, service.base_url, admin_key, errors, "#/settings")
    try:
        expect(page.locator("nav").get_by_role("link", name="Settings")).to_be_visible()
        row = page.locator("#settings-rows tr[data-setting='max_job_timeout']")
        expect(row).to_have_attribute("data-source", "default")
        expect(row).to_contain_text("604800 (default)")

        # Out of bounds: the API's 400 is shown, nothing changes.
        row.locator("input").fill("0")
        row.locator(".save-setting").click()
        expect(page.locator("#settings-error")).to_contain_text(
            "max_job_timeout: expected an integer in 1..31536000, got 0"
        )
        expect(row).to_have_attribute("data-source", "default")

        row.locator("input").fill("600")
        row.locator(".save-setting").click()
        expect(row).to_have_attribute("data-source", "runtime")
        expect(page.locator("#settings-error")).to_be_hidden()
        expect(row.locator(".setting-source")).to_have_text("set at runtime")
        expect(row).to_contain_text(f"by key:{admin_key_id}")

        page.reload()
        expect(row.locator("input")).to_have_value("600")
        expect(row).to_have_attribute("data-source", "runtime")
        headers = {"Authorization": f"Bearer {admin_key}"}
        shown = httpx.get(f"{service.base_url}/api/v1/settings", headers=headers).json()["data"]["settings"]
        assert {item["name"]: item["value"] for item in shown}["max_job_timeout"] == 600

        # The audit view: the refused attempt and the change, old → new, linking back to the settings.
        page.goto(f"{service.base_url}/#/audit?action=settings.change")
        rows = page.locator("#audit-rows tr")
        expect(rows).to_have_count(2)  # newest first
        expect(rows.nth(0)).to_contain_text("success")
        expect(rows.nth(0)).to_contain_text('max_job_timeout: {"new":600,"old":604800}')
        expect(rows.nth(0)).to_contain_text(f"key:{admin_key_id}")
        expect(rows.nth(1)).to_contain_text("refused")
        rows.nth(0).get_by_role("link", name="settings").click()
        page.wait_for_url(f"{service.base_url}/#/settings")

        row.locator(".reset-setting").click()
        expect(row).to_have_attribute("data-source", "default")
        expect(row.locator("input")).to_have_value("604800")
        expect(row.locator(".reset-setting")).to_have_count(0)

        # A retention set on the page: `newremora prune` applies it, and the job's page says its output went.
        retention = page.locator("#settings-rows tr[data-setting='output_retention_days']")
        expect(retention).to_contain_text("0 (default)")
        retention.locator("input").fill("30")
        retention.locator(".save-setting").click()
        expect(retention).to_have_attribute("data-source", "runtime")
        assert "job output: 1 went (older than 30 days" in cli(env, tmp_path, "prune")
        page.goto(f"{service.base_url}/#/jobs/{old_job}")
        expect(page.locator("#job-meta")).to_contain_text("Outputdeleted by the retention on")  # <dt><dd>
        assert errors == []

        viewer = open_with_key(browser, service.base_url, viewer_key, errors, "#/settings")
        expect(viewer.locator("#me-role")).to_have_text("viewer")
        expect(viewer.locator("nav").get_by_role("link", name="Settings")).to_be_hidden()
        expect(viewer.locator("#view-denied")).to_contain_text("Your role (viewer) cannot use this page")
        viewer.context.close()
    finally:
        page.context.close()
        service.stop()
