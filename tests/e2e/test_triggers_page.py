"""A template's triggers on the page, in Debian's headless Chromium against a real service: create one (its secret
shown once, which signs a request that launches), find it without its secret after a reload, rotate it (the old
secret refused from then on) and delete it."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from playwright.sync_api import Browser, Dialog, expect

from app.trigger_signatures import sign
from tests.harness.cli import run_command as cli
from tests.harness.service import Service

pytestmark = pytest.mark.slow


def fire(base_url: str, path: str, secret: str) -> int:
    body, stamp = b'{"version": "7"}', str(int(time.time()))
    headers = {"X-NewRemora-Timestamp": stamp, "X-Hub-Signature-256": sign(secret, stamp, body)}
    return httpx.post(base_url + path, content=body, headers=headers).status_code


def test_a_trigger_is_created_shown_once_rotated_and_deleted_on_the_page(
    browser: Browser, tmp_path: Path, control_root: Path
) -> None:
    env = {
        "NEWREMORA_DATA_DIR": str(tmp_path / "var"),
        "NEWREMORA_SECRET_KEY": Fernet.generate_key().decode(),
        "NEWREMORA_CONTROL_DIR": tempfile.mkdtemp(dir=control_root),
        "NEWREMORA_RATE_LIMIT": "0",
    }
    cli(env, tmp_path, "migrate")
    service = Service.start(tmp_path / "svc", env, ("serve", "--no-workers"))
    server = {"name": "t1", "hostname": "127.0.0.1", "port": 1, "user": "u", "auth_type": "password", "password": "p"}
    made = httpx.post(f"{service.base_url}/api/v1/servers", json=server)
    assert made.status_code == 201, made.text
    template = {
        "name": "deploy",
        "kind": "command",
        "command": 'echo "$version"',
        "timeout": 60,
        "server_id": made.json()["data"]["id"],
        "parameters": [{"name": "version", "type": "string"}],
    }
    created = httpx.post(f"{service.base_url}/api/v1/templates", json=template)
    assert created.status_code == 201, created.text
    template_id = created.json()["data"]["id"]
    errors: list[str] = []
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("dialog", Dialog.accept)
    try:
        page.goto(f"{service.base_url}/#/templates/{template_id}")
        box = page.locator("#template-triggers")
        expect(box).to_contain_text("No trigger yet.")
        box.locator("input[name='trigger-name']").fill("release")
        box.get_by_role("button", name="New trigger").click()
        secret_text = page.locator("#trigger-secret")
        expect(secret_text).to_contain_text("nrwh_")
        secret = (secret_text.text_content() or "").strip()
        expect(page.locator("#trigger-curl")).to_contain_text("X-Hub-Signature-256: sha256=$SIG")
        rows = page.locator("#trigger-rows tr")
        expect(rows).to_have_count(1)
        expect(rows.first).to_contain_text("release")
        path = f"/hooks/{rows.first.get_attribute('data-trigger')}"
        assert fire(service.base_url, path, secret) == 201

        page.reload()
        expect(rows).to_have_count(1)
        expect(page.locator("#trigger-secret-box")).to_have_count(0)  # shown once
        assert secret not in page.content()

        rows.first.locator(".rotate-trigger").click()
        expect(secret_text).to_contain_text("nrwh_")
        expect(secret_text).not_to_have_text(secret)
        rotated = (secret_text.text_content() or "").strip()
        assert fire(service.base_url, path, secret) == 401
        assert fire(service.base_url, path, rotated) == 201

        rows.first.locator(".delete-trigger").click()
        expect(rows).to_have_count(0)
        expect(box).to_contain_text("No trigger yet.")
        assert fire(service.base_url, path, rotated) == 401
        assert errors == []
    finally:
        page.context.close()
        service.stop()
