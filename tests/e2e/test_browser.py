"""Headless Chromium (Debian's) tails a job's log live in the page served at /."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.harness.service import Service
from tests.harness.sshd import SshTarget

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is missing: run tests/harness/install-system-deps.sh", pytrace=False)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    env = {"NEWREMORA_WORKERS": "2", "NEWREMORA_CONTROL_DIR": tempfile.mkdtemp(prefix="nrcp-")}
    started = Service.start(tmp_path_factory.mktemp("browser-service"), env)
    yield started
    started.stop()


def test_the_log_page_shows_lines_as_they_arrive(
    browser: Browser, service: Service, sshd: SshTarget, tmp_path: Path
) -> None:
    with httpx.Client(base_url=service.base_url, timeout=30) as http:
        server = http.post(
            "/api/v1/servers",
            json=sshd.server_body(f"b-{uuid.uuid4().hex[:6]}"),
        ).json()["data"]
        command = 'for i in 1 2 3 4 5 6; do echo "line $i"; echo "warn $i" >&2; sleep 0.5; done; exit 2'
        job_id = http.post("/api/v1/jobs", json={"server_id": server["id"], "command": command}).json()["data"]["id"]

    page = browser.new_page()
    try:
        page.goto(f"{service.base_url}/?job={job_id}")
        page.locator("#log span.stdout", has_text="line 1").wait_for(timeout=20_000)
        # The first line is on screen while the job is still running: it arrived live.
        assert page.locator("#job-status").inner_text() == "running"
        page.locator("#job-status.failed").wait_for(timeout=30_000)
        assert page.locator("#log span.stdout").all_inner_texts() == [f"line {i}\n" for i in range(1, 7)]
        assert page.locator("#log span.stderr").all_inner_texts() == [f"warn {i}\n" for i in range(1, 7)]
        assert page.locator("#job-exit").inner_text() == "exit code 2"
        page.screenshot(path=str(tmp_path / "log-view.png"))
    finally:
        page.close()
