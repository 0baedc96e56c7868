"""Browser sign-in in Debian's headless Chromium against a real service whose users come from the real CLI: a viewer
signs in with a password (a wrong one shows the error), sees the user menu, tails a job's live log over the
session cookie alone (EventSource, no access_token), signs out, and the old cookie replayed is refused. An
administrator's signed-in browser is made to post forms from a page on another origin, and a same-origin script
leaves out the CSRF token: nothing is created either way."""

from __future__ import annotations

import functools
import tempfile
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from playwright.sync_api import Browser, Page, expect

from tests.harness.cli import run_command as cli
from tests.harness.service import Service
from tests.harness.sshd import SshTarget

pytestmark = pytest.mark.slow

PAGE_MS = 15_000
VIEWER_PASSWORD = "viewer-Passw0rd-e2e-only"
ADMIN_PASSWORD = "admin-Passw0rd-e2e-only"

# Another site's page that posts forms to the service as soon as it loads: text/plain makes a body that parses
# as JSON, the classic way round "JSON only"; no script of that page can read the service's CSRF token.
EVIL_PAGE = """<!doctype html>
<meta charset="utf-8"><title>a page elsewhere</title>
<form id="user" method="post" enctype="text/plain" action="{api}/api/v1/users">
  <input name='{{"username": "mallory", "role": "admin", "x": "' value='"}}'>
</form>
<script>document.getElementById("user").submit();</script>
"""


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def site(tmp_path: Path, control_root: Path) -> Iterator[tuple[Service, str, dict[str, str]]]:
    """A service with root (admin, key only), ada (admin, password) and vic (viewer, password); root's key."""
    env = {
        "NEWREMORA_DATA_DIR": str(tmp_path / "var"),
        "NEWREMORA_SECRET_KEY": Fernet.generate_key().decode(),
        "NEWREMORA_CONTROL_DIR": tempfile.mkdtemp(dir=control_root),
        "NEWREMORA_RATE_LIMIT": "0",
        "NEWREMORA_JOB_RATE_LIMIT": "0",
        "NEWREMORA_WORKERS": "1",
    }
    (tmp_path / "vic.pw").write_text(VIEWER_PASSWORD + "\n")
    (tmp_path / "ada.pw").write_text(ADMIN_PASSWORD + "\n")
    cli(env, tmp_path, "migrate")
    cli(env, tmp_path, "user", "create", "root", "--role", "admin", "--no-password")
    cli(env, tmp_path, "user", "create", "vic", "--role", "viewer", "--password-file", str(tmp_path / "vic.pw"))
    cli(env, tmp_path, "user", "create", "ada", "--role", "admin", "--password-file", str(tmp_path / "ada.pw"))
    key = cli(env, tmp_path, "token", "create", "--name", "root", "--user", "root").strip().splitlines()[-1]
    service = Service.start(tmp_path / "svc", env)
    yield service, key, env
    service.stop()


@pytest.fixture
def other_site(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    root = tmp_path / "site"
    root.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", root
    server.shutdown()
    server.server_close()


def sign_in(page: Page, username: str, password: str) -> None:
    expect(page.locator("#signin-dialog")).to_be_visible(timeout=PAGE_MS)
    page.fill("#signin-username", username)
    page.fill("#signin-password", password)
    page.click("#signin-ok")


def test_a_viewer_signs_in_tails_a_job_over_the_cookie_and_signs_out_for_good(
    browser: Browser, site: tuple[Service, str, dict[str, str]], sshd: SshTarget, tmp_path: Path
) -> None:
    service, key, env = site
    with httpx.Client(base_url=f"{service.base_url}/api/v1", headers={"Authorization": f"Bearer {key}"}) as admin:
        server = admin.post("/servers", json=sshd.server_body("web-01")).json()["data"]
        body = {"server_id": server["id"], "command": "echo signed-in-stream; sleep 1; echo second-line"}
        job = admin.post("/jobs", json=body).json()["data"]["id"]

    context = browser.new_context(viewport={"width": 1280, "height": 800})
    errors: list[str] = []
    page = context.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(service.base_url)
        sign_in(page, "vic", "not-the-Passw0rd-of-vic")
        expect(page.locator("#signin-error")).to_have_text("Wrong username or password", timeout=PAGE_MS)
        page.fill("#signin-password", VIEWER_PASSWORD)
        page.click("#signin-ok")
        expect(page.locator("#signin-dialog")).to_be_hidden(timeout=PAGE_MS)
        expect(page.locator("#me-who")).to_have_text("vic", timeout=PAGE_MS)
        expect(page.locator("#me-role")).to_have_text("viewer")
        expect(page.locator("#sign-out")).to_be_visible()
        expect(page.locator("nav").get_by_role("link", name="Run a job")).to_be_hidden()
        assert page.evaluate("sessionStorage.getItem('newremora.apiKey')") is None  # the cookie, no key

        # What a viewer may do: a job's live log, streamed with the cookie (EventSource sends no header).
        streams: list[str] = []
        page.on("request", lambda request: streams.append(request.url) if "/stream" in request.url else None)
        page.goto(f"{service.base_url}/#/jobs/{job}")
        expect(page.locator("#job-text")).to_contain_text("second-line", timeout=PAGE_MS * 2)
        expect(page.locator("#job-status")).to_contain_text("completed", timeout=PAGE_MS)
        assert streams and all("access_token" not in url for url in streams)

        # The session ends behind the page's back (a new password ends it): the list's next refresh brings the
        # sign-in form back, saying why, and signing in again carries on.
        page.goto(f"{service.base_url}/#/jobs")
        (tmp_path / "new.pw").write_text(VIEWER_PASSWORD + "-new\n")
        cli(env, tmp_path, "user", "set-password", "vic", "--password-file", str(tmp_path / "new.pw"))
        expect(page.locator("#signin-reason")).to_have_text("Your session has ended: sign in again.", timeout=PAGE_MS)
        sign_in(page, "vic", VIEWER_PASSWORD + "-new")
        expect(page.locator("#signin-dialog")).to_be_hidden(timeout=PAGE_MS)
        expect(page.locator("#view-jobs")).to_contain_text("signed-in-stream", timeout=PAGE_MS)

        cookie = next(c for c in context.cookies() if c["name"] == "newremora_session")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and not cookie["secure"]
        assert page.evaluate("document.cookie") == ""  # no script of the page can read it
        page.click("#sign-out")
        expect(page.locator("#signin-dialog")).to_be_visible(timeout=PAGE_MS)  # the form is back
        replayed = httpx.get(
            f"{service.base_url}/api/v1/me", headers={"Cookie": f"newremora_session={cookie['value']}"}, timeout=30
        )
        assert replayed.status_code == 401
        assert not [c for c in context.cookies() if c["name"] == "newremora_session"]
    finally:
        context.close()
    assert errors == []

    with httpx.Client(base_url=f"{service.base_url}/api/v1", headers={"Authorization": f"Bearer {key}"}) as admin:
        events = admin.get("/audit", params={"limit": 500}).json()["data"]["events"]
    actions = [
        (event["action"], event["actor"], event["outcome"]) for event in events if event["action"] != "auth.failed"
    ]
    assert ("auth.signin", "user:vic", "success") in actions and ("auth.signout", "user:vic", "success") in actions
    assert ("auth.signin_failed", "unknown", "refused") in actions
    assert VIEWER_PASSWORD not in str(events) and "not-the-Passw0rd-of-vic" not in str(events)


def test_forms_of_another_site_and_scripts_without_the_csrf_token_change_nothing(
    browser: Browser, site: tuple[Service, str, dict[str, str]], other_site: tuple[str, Path]
) -> None:
    service, key, _ = site
    origin, root = other_site
    (root / "evil.html").write_text(EVIL_PAGE.format(api=service.base_url))
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(service.base_url)
        sign_in(page, "ada", ADMIN_PASSWORD)
        expect(page.locator("#me-who")).to_have_text("ada", timeout=PAGE_MS)
        expect(page.locator("#me-role")).to_have_text("admin")

        # The same origin, the cookie, no CSRF token: refused.
        status = page.evaluate(
            """async () => (await fetch("/api/v1/users", {method: "POST", headers: {"Content-Type":
            "application/json"}, body: JSON.stringify({username: "eve", role: "admin"})})).status"""
        )
        assert status == 403

        # Another site's page posts a form while this browser holds ada's session.
        other = context.new_page()
        with other.expect_response(lambda response: "/api/v1/users" in response.url, timeout=PAGE_MS) as posted:
            other.goto(f"{origin}/evil.html")
        assert posted.value.status == 403
        other.close()

        # The page itself, with its token, may (the same session is still live).
        made = page.evaluate(
            """async () => {
              const session = (await (await fetch("/auth/session")).json()).data;
              const response = await fetch("/api/v1/users", {method: "POST", headers: {"Content-Type":
                "application/json", "X-CSRF-Token": session.csrf_token}, body: JSON.stringify({username: "fay",
                role: "viewer"})});
              return response.status;
            }"""
        )
        assert made == 201
    finally:
        context.close()

    with httpx.Client(base_url=f"{service.base_url}/api/v1", headers={"Authorization": f"Bearer {key}"}) as admin:
        names = {user["username"] for user in admin.get("/users").json()["data"]["users"]}
    assert names == {"root", "vic", "ada", "fay"}  # no mallory, no eve
