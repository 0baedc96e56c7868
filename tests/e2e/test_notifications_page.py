"""The #/notifications view in Chromium against a real service: an administrator creates a target (its secret shown
once), sends a test event that a real receiver on loopback accepts and sees it delivered with its attempt, edits
the target and disables it; a viewer is not offered the view."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from playwright.sync_api import Browser, expect

from tests.e2e.test_runtime_settings_page import open_with_key
from tests.harness.cli import run_command as cli
from tests.harness.service import Service
from tests.harness.webhook import Receiver

pytestmark = pytest.mark.slow


def test_an_administrator_creates_tests_and_disables_a_target(
    browser: Browser, tmp_path: Path, control_root: Path
) -> None:
    env = {
        "NEWREMORA_DATA_DIR": str(tmp_path / "var"),
        "NEWREMORA_SECRET_KEY": Fernet.generate_key().decode(),
        "NEWREMORA_CONTROL_DIR": tempfile.mkdtemp(dir=control_root),
        "NEWREMORA_RATE_LIMIT": "0",
        "NEWREMORA_WORKERS": "1",
    }
    cli(env, tmp_path, "migrate")
    cli(env, tmp_path, "user", "create", "root", "--role", "admin", "--no-password")
    cli(env, tmp_path, "user", "create", "vic", "--role", "viewer", "--no-password")
    admin_key = cli(env, tmp_path, "token", "create", "--name", "root", "--user", "root").strip().splitlines()[-1]
    viewer_key = cli(env, tmp_path, "token", "create", "--name", "vic", "--user", "vic").strip().splitlines()[-1]
    service = Service.start(tmp_path / "svc", env)
    errors: list[str] = []
    receiver = Receiver({"/hook": [200]})
    with receiver.running():
        page = open_with_key(browser, service.base_url, admin_key, errors, "#/notifications")
        try:
            expect(page.locator("nav").get_by_role("link", name="Notifications")).to_be_visible()
            form = page.locator("#notify-form")
            form.locator("input[name=name]").fill("ops")
            form.locator("input[name=url]").fill("ftp://127.0.0.1/nope")
            form.locator("input[name=url]").evaluate("node => node.type = 'text'")  # let the API judge it
            form.locator("#notify-submit").click()
            expect(page.locator("#notify-error")).to_contain_text("url")
            form.locator("input[name=url]").fill(f"{receiver.url}/hook")
            form.locator("#notify-submit").click()
            secret = page.locator("#notify-secret-value")
            expect(secret).to_have_text(re.compile(r"^[A-Za-z0-9_-]{32,}$"))
            shown_secret = secret.inner_text()
            row = page.locator("#notify-rows tr[data-target='ops']")
            expect(row).to_have_attribute("data-enabled", "true")
            expect(row).to_contain_text("job.failed")

            row.locator(".test-target").click()
            delivered = page.locator("#notify-delivery-rows tr[data-event='test']")
            expect(delivered).to_be_visible()
            # Delivered by the service's delivery thread; the view refreshes its deliveries meanwhile.
            expect(delivered).to_have_attribute("data-state", "delivered", timeout=20_000)
            expect(delivered).to_contain_text("200")
            (post,) = receiver.on("/hook")
            assert post.signed_by(shown_secret) and post.headers["x-newremora-event"] == "test"

            row.locator(".edit-target").click()
            form.locator("input[value='batch.failed']").check()
            form.locator("#notify-submit").click()
            expect(row).to_contain_text("job.failed, batch.failed")
            row.locator(".toggle-target").click()
            expect(row).to_have_attribute("data-enabled", "false")
            expect(row.locator(".target-state")).to_have_text("disabled")
            page.reload()
            expect(page.locator("#notify-secret-value")).to_have_count(0)  # shown once: gone after a reload
            headers = {"Authorization": f"Bearer {admin_key}"}
            listed = httpx.get(f"{service.base_url}/api/v1/notification-targets", headers=headers)
            assert shown_secret not in listed.text
            (target,) = listed.json()["data"]["targets"]
            assert (target["enabled"], target["events"]) == (False, ["job.failed", "batch.failed"])

            viewer = open_with_key(browser, service.base_url, viewer_key, errors, "#/notifications")
            expect(viewer.locator("#denied-text")).to_contain_text("cannot use this page")
            expect(viewer.locator("nav").get_by_role("link", name="Notifications")).to_be_hidden()
            assert errors == []
        finally:
            page.context.close()
            service.stop()
