"""The page by role, in Debian's headless Chromium against a real service whose users and keys come from the real
CLI: a viewer's key is offered no Run, cancel, duplicate or server-edit control and no Users/Audit navigation (the
API refuses them anyway); an administrator's key makes a key for another user (shown once, working against the
API, gone after a reload), disables that user, meets the API's refusal to disable the last administrator, and
finds these actions in the audit view, filtered by action through the address."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from playwright.sync_api import Browser, Dialog, Page, expect

from tests.harness.cli import run_command as cli
from tests.harness.service import Service
from tests.harness.sshd import SshTarget
from tests.harness.wait import wait_until

pytestmark = pytest.mark.slow

PAGE_MS = 15_000


class Site:
    """A service with an administrator (root), an operator (bob) and a viewer (vic), and a key for root and vic."""

    def __init__(self, service: Service, env: dict[str, str], admin_key: str, admin_key_id: str, viewer_key: str):
        self.service = service
        self.env = env
        self.admin_key = admin_key
        self.admin_key_id = admin_key_id
        self.viewer_key = viewer_key

    def api(self, key: str) -> httpx.Client:
        return httpx.Client(base_url=f"{self.service.base_url}/api/v1", headers={"Authorization": f"Bearer {key}"})


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, control_root: Path) -> Iterator[Site]:
    workdir = tmp_path_factory.mktemp("browser-access")
    env = {
        "NEWREMORA_DATA_DIR": str(workdir / "var"),
        "NEWREMORA_SECRET_KEY": Fernet.generate_key().decode(),
        "NEWREMORA_CONTROL_DIR": tempfile.mkdtemp(dir=control_root),
        "NEWREMORA_RATE_LIMIT": "0",
        "NEWREMORA_JOB_RATE_LIMIT": "0",
    }
    cli(env, workdir, "migrate")
    cli(env, workdir, "user", "create", "root", "--role", "admin", "--no-password")
    cli(env, workdir, "user", "create", "bob", "--role", "operator", "--no-password")
    cli(env, workdir, "user", "create", "vic", "--role", "viewer", "--no-password")
    made = cli(env, workdir, "token", "create", "--name", "root-laptop", "--user", "root")
    admin_key, admin_key_id = made.strip().splitlines()[-1], made.split()[2]
    viewer_key = cli(env, workdir, "token", "create", "--name", "vic-laptop", "--user", "vic").strip().splitlines()[-1]
    service = Service.start(workdir / "svc", env)
    yield Site(service, env, admin_key, admin_key_id, viewer_key)
    service.stop()


def open_with_key(browser: Browser, site: Site, key: str, errors: list[str], where: str = "") -> Page:
    """A fresh tab (empty session storage) that enters ``key`` at the page's prompt; confirm() is accepted."""
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("dialog", Dialog.accept)
    page.goto(f"{site.service.base_url}/{where}")
    page.fill("#key-input", key)
    page.click("#key-ok")
    return page


def test_a_viewer_is_offered_only_what_a_viewer_may_do(browser: Browser, site: Site, sshd: SshTarget) -> None:
    with site.api(site.admin_key) as admin:
        server = admin.post("/servers", json=sshd.server_body("web-01")).json()["data"]
        body = {"server_id": server["id"], "command": "sleep", "args": "60", "timeout": 120}
        job = admin.post("/jobs", json=body).json()["data"]["id"]
    errors: list[str] = []
    viewer = open_with_key(browser, site, site.viewer_key, errors)
    try:
        expect(viewer.locator("#me-who")).to_have_text("vic")
        expect(viewer.locator("#me-role")).to_have_text("viewer")
        nav = viewer.locator("nav")
        expect(nav.get_by_role("link", name="Jobs")).to_be_visible()
        expect(nav.get_by_role("link", name="Keys")).to_be_visible()  # a viewer has keys of their own
        for absent in ("Run a job", "Users", "Audit"):
            expect(nav.get_by_role("link", name=absent)).to_be_hidden()

        viewer.get_by_role("link", name="Servers").click()
        row = viewer.locator("#servers-rows tr[data-server='web-01']")
        expect(row).to_be_visible()
        expect(row.locator("button, a")).to_have_count(0)  # no Test, Edit, Run… or Delete
        expect(viewer.locator("#add-server")).to_be_hidden()
        expect(viewer.locator("#check-all")).to_be_hidden()

        viewer.get_by_role("link", name="Jobs").click()
        expect(viewer.locator(f"#jobs-rows tr[data-job='{job}']")).to_be_visible()
        expect(viewer.locator(".cancel-job")).to_have_count(0)
        viewer.goto(f"{site.service.base_url}/#/jobs/{job}")
        expect(viewer.locator("#job-meta")).to_contain_text(f"Submitted bykey:{site.admin_key_id}")
        expect(viewer.locator("#download-log")).to_be_visible()
        expect(viewer.locator("#cancel-job")).to_be_hidden()
        expect(viewer.locator("#duplicate-job")).to_be_hidden()
        viewer.goto(f"{site.service.base_url}/#/audit")  # typed in: the page says it is not for this role
        expect(viewer.locator("#view-denied")).to_contain_text("Your role (viewer) cannot use this page")
        expect(viewer.locator("#audit-rows tr")).to_have_count(0)

        # The same job, the administrator: the controls are there, and the cancel shows who asked for it.
        admin_page = open_with_key(browser, site, site.admin_key, errors, "#/jobs")
        expect(admin_page.locator("#me-role")).to_have_text("admin")
        expect(admin_page.locator(f"#jobs-rows tr[data-job='{job}'] .cancel-job")).to_be_enabled()
        admin_page.goto(f"{site.service.base_url}/#/jobs/{job}")
        admin_page.click("#cancel-job")
        expect(admin_page.locator("#job-meta")).to_contain_text(f"Canceled bykey:{site.admin_key_id}")
        expect(admin_page.locator("#duplicate-job")).to_be_visible()
        admin_page.context.close()
        assert errors == []
    finally:
        viewer.context.close()


def test_an_administrator_manages_keys_and_users_and_reads_the_audit_trail(browser: Browser, site: Site) -> None:
    errors: list[str] = []
    page = open_with_key(browser, site, site.admin_key, errors, "#/keys")
    try:
        expect(page.locator("#me-who")).to_have_text("root")
        for present in ("Keys", "Users", "Audit", "Run a job"):
            expect(page.locator("nav").get_by_role("link", name=present)).to_be_visible()

        # A key for bob, narrowed to viewer: shown once.
        form = page.locator("#key-form")
        form.locator("[name=name]").fill("bob-ci")
        form.locator("[name=user_id]").select_option(label="bob (operator)")
        form.locator("[name=role]").select_option("viewer")
        form.locator("[name=expires_at]").fill("2099-01-01")
        page.click("#key-create")
        expect(page.locator("#new-key")).to_be_visible()
        expect(page.locator("#new-key")).to_contain_text("shown this once")
        bob_key = page.locator("#new-key-value").input_value()
        assert bob_key.startswith("nr_")
        row = page.locator("#keys-rows tr[data-name='bob-ci']")
        expect(row).to_contain_text("bob")
        expect(row).to_contain_text("viewer")
        expect(row).to_contain_text("2099-01-01")
        with site.api(bob_key) as bob:
            me = bob.get("/me").json()["data"]
        assert (me["user"]["username"], me["role"]) == ("bob", "viewer")
        key_id = me["key_id"]
        page.reload()
        expect(row).to_be_visible()
        expect(page.locator("#new-key")).to_be_hidden()
        assert bob_key not in page.content()
        assert bob_key[:10] in page.content()  # its prefix, to recognise it

        # Bob disabled; root, the last administrator, cannot be: the API's reason is shown.
        page.locator("nav").get_by_role("link", name="Users").click()
        expect(page.locator("#view-users")).to_contain_text("newremora user set-password")
        bob_row = page.locator("#users-rows tr[data-user='bob']")
        bob_row.locator(".user-role").select_option("viewer")
        with site.api(site.admin_key) as admin:
            wait_until(lambda: admin.get("/users/bob").json()["data"]["role"], 15, "bob a viewer", done="viewer".__eq__)
        bob_row.locator(".disable-user").click()
        expect(bob_row.locator(".enable-user")).to_be_visible()
        expect(bob_row).to_contain_text("disabled")
        with site.api(bob_key) as bob:
            assert bob.get("/me").status_code == 401
        page.locator("#users-rows tr[data-user='root'] .disable-user").click()
        expect(page.locator("#users-error")).to_contain_text("administrator")
        expect(page.locator("#users-rows tr[data-user='root']")).to_have_attribute("data-disabled", "false")

        # The key revoked from the keys view (after a confirmation, accepted here).
        page.locator("nav").get_by_role("link", name="Keys").click()
        row.locator(".revoke-key").click()
        expect(row).to_contain_text("revoked")
        expect(row.locator(".revoke-key")).to_have_count(0)

        # The audit trail, filtered through the address, and then through its form.
        page.goto(f"{site.service.base_url}/#/audit?action=user.update")
        rows = page.locator("#audit-rows tr")
        expect(rows).to_have_count(3)  # bob a viewer, bob disabled, root refused: newest first
        expect(rows.nth(0)).to_contain_text("refused")
        expect(rows.nth(1)).to_contain_text("success")
        expect(rows.nth(1)).to_contain_text("disabled: true")
        expect(rows.nth(2)).to_contain_text("role: viewer")
        for index in (0, 1, 2):
            expect(rows.nth(index)).to_contain_text(f"key:{site.admin_key_id}")
        expect(page.locator("#audit-filters [name=action]")).to_have_value("user.update")
        page.locator("#audit-filters [name=action]").fill("key.create")
        page.locator("#audit-filters [name=action]").press("Tab")
        page.wait_for_url(re.compile(r"#/audit\?action=key\.create$"))
        created = page.locator(f"#audit-rows tr[data-action='key.create']:has-text('{key_id}')")
        expect(created).to_contain_text(f"key:{site.admin_key_id}")
        expect(created).to_contain_text("role: viewer")
        expect(created.get_by_role("link", name=f"api_key {key_id}")).to_have_attribute("href", "#/keys")
        page.locator("#audit-filters [name=action]").fill("key.revoke")
        page.locator("#audit-filters [name=action]").press("Tab")
        expect(page.locator("#audit-rows tr")).to_have_count(1)
        expect(page.locator("#audit-rows tr")).to_contain_text(key_id)
        assert bob_key not in page.content()
        assert errors == []
    finally:
        page.context.close()


def test_the_first_key_made_on_an_open_service_is_shown_and_used_by_the_page(
    browser: Browser, tmp_path: Path, control_root: Path
) -> None:
    env = {
        "NEWREMORA_DATA_DIR": str(tmp_path / "var"),
        "NEWREMORA_CONTROL_DIR": tempfile.mkdtemp(dir=control_root),
        "NEWREMORA_RATE_LIMIT": "0",
    }
    service = Service.start(tmp_path / "svc", env)
    errors: list[str] = []
    page = browser.new_context().new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(f"{service.base_url}/#/keys")
        expect(page.locator("#me-who")).to_have_text("local")  # single-user mode: no key asked
        expect(page.locator("#forget-key")).to_be_hidden()
        page.locator("#key-form [name=name]").fill("first")
        page.click("#key-create")
        # The key ends single-user mode: the page takes it instead of hiding it behind its key prompt.
        expect(page.locator("#copy-state")).to_have_text("this page uses it from now on")
        key = page.locator("#new-key-value").input_value()
        expect(page.locator("#keys-rows tr[data-name='first']")).to_contain_text("no user (admin key)")
        expect(page.locator("#me-who")).to_have_text("key first")  # the key's name, from /me
        expect(page.locator("#key-dialog")).to_be_hidden()
        assert httpx.get(f"{service.base_url}/api/v1/keys", timeout=10).status_code == 401
        assert page.evaluate("sessionStorage.getItem('newremora.apiKey')") == key
        assert errors == []
    finally:
        page.context.close()
        service.stop()
