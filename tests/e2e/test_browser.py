"""The browser page at /, driven in Debian's headless Chromium as a person would use it: servers added,
tested and fixed; a job submitted whose lines appear while it runs; a network drop survived; a job
duplicated and canceled; the jobs list filtered, searched, sorted and paged while it updates itself; the
dashboard; and, with API keys on, the key asked for once. ``make screenshots`` keeps the pictures it takes."""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect

from tests.harness.proxy import DroppingProxy
from tests.harness.service import NEWREMORA, Service
from tests.harness.sshd import SshTarget
from tests.harness.wait import wait_until

pytestmark = pytest.mark.slow

VIEWPORT: ViewportSize = {"width": 1280, "height": 800}
ANSIBLE_RUN_MS = 90_000  # an Ansible run on this loaded machine: generous, as only failures wait that long
PAGE_MS = 15_000  # the page reacting (the jobs list refreshes every 3 s)

AT_BOTTOM = "el.scrollHeight - el.scrollTop - el.clientHeight < 4"

Shoot = Callable[[Page, str], None]


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, control_root: Path) -> Iterator[Service]:
    env = {
        "NEWREMORA_WORKERS": "2",
        "NEWREMORA_CONTROL_DIR": tempfile.mkdtemp(dir=control_root),
        # The test clicks faster than a person: the page's own pace stays under the default limits.
        "NEWREMORA_RATE_LIMIT": "0",
        "NEWREMORA_JOB_RATE_LIMIT": "0",
    }
    started = Service.start(tmp_path_factory.mktemp("browser-service"), env)
    yield started
    started.stop()


@pytest.fixture
def proxy(service: Service) -> Iterator[DroppingProxy]:
    started = DroppingProxy(service.port)
    yield started
    started.close()


@pytest.fixture
def shoot(request: pytest.FixtureRequest, tmp_path: Path) -> Shoot:
    chosen = request.config.getoption("--screenshots")
    directory = Path(chosen) if chosen else tmp_path
    directory.mkdir(parents=True, exist_ok=True)

    def save(page: Page, name: str) -> None:
        page.screenshot(path=str(directory / f"{name}.png"))

    return save


@pytest.fixture
def page_errors() -> list[str]:
    """Uncaught errors of the page's scripts: none expected."""
    return []


@pytest.fixture
def page(browser: Browser, page_errors: list[str]) -> Iterator[Page]:
    """A fresh tab of its own (empty session storage)."""
    context = browser.new_context(viewport=VIEWPORT)
    opened = context.new_page()
    opened.on("pageerror", lambda error: page_errors.append(str(error)))
    yield opened
    context.close()


def job_id_in(page: Page) -> str:
    match = re.search(r"#/jobs/([0-9a-f-]{36})$", page.url)
    assert match, page.url
    return match.group(1)


def test_servers_jobs_live_log_and_list_in_the_browser(
    page: Page,
    page_errors: list[str],
    service: Service,
    proxy: DroppingProxy,
    sshd: SshTarget,
    shoot: Shoot,
    gate: Path,
) -> None:
    release = gate / "go"  # the job runs as the test user, who must see the file appear
    landing = page.goto(f"{proxy.url}/")
    assert landing is not None and "script-src 'self'" in landing.headers["content-security-policy"]
    expect(page.locator("[data-stat=total_servers]")).to_have_text("0")

    # ----- servers: a typo in the password, found by the test and fixed; a key server; check all -------
    page.get_by_role("link", name="Servers").click()
    form = page.locator("#server-form")
    page.click("#add-server")
    form.locator("[name=name]").fill("web 01")
    form.locator("[name=hostname]").fill(sshd.host)
    form.locator("[name=port]").fill(str(sshd.port))
    form.locator("[name=user]").fill(sshd.user.name)
    form.locator("[name=password]").fill("a typo")
    page.click("#server-save")
    expect(page.locator("#server-form-error")).to_contain_text("name:")  # the API's message, nothing stored
    expect(page.locator("#servers-rows tr")).to_have_count(0)
    form.locator("[name=name]").fill("web-01")
    page.click("#server-save")
    web = page.locator("#servers-rows tr[data-server='web-01']")
    expect(web).to_contain_text(f"{sshd.user.name}@{sshd.host}:{sshd.port}")
    expect(web.locator(".status")).to_have_text("unchecked")
    web.locator(".test-server").click()
    expect(web.locator(".status.disconnected")).to_be_visible(timeout=ANSIBLE_RUN_MS)
    expect(web.locator(".message")).to_contain_text("authentication failed")
    web.locator(".edit-server").click()
    expect(form.locator("[name=password]")).to_have_attribute("placeholder", re.compile("stored"))
    form.locator("[name=password]").fill(sshd.user.password)
    page.click("#server-save")
    web.locator(".test-server").click()
    expect(web.locator(".status.connected")).to_be_visible(timeout=ANSIBLE_RUN_MS)

    page.click("#add-server")
    form.locator("[name=name]").fill("db-01")
    form.locator("[name=hostname]").fill(sshd.host)
    form.locator("[name=port]").fill(str(sshd.port))
    form.locator("[name=user]").fill(sshd.user.name)
    form.locator("[name=auth_type]").select_option("key")
    form.locator("[name=private_key]").fill(sshd.user.private_key)
    page.click("#server-save")
    expect(page.locator("#servers-rows tr[data-server='db-01']")).to_contain_text("key")
    page.click("#check-all")
    expect(page.locator("#check-summary")).to_contain_text("2 checked: 2 connected", timeout=ANSIBLE_RUN_MS)
    expect(page.locator("#servers-rows .status.connected")).to_have_count(2)
    shoot(page, "servers")

    # ----- a script submitted from the page: its lines appear while it waits for the test ---------------
    page.get_by_role("link", name="Run a job").click()
    run = page.locator("#run-form")
    run.locator("[name=target]").select_option(label=f"web-01 ({sshd.user.name}@{sshd.host}:{sshd.port})")
    run.locator("[name=kind][value=script]").check()
    script = (
        'for i in $(seq 1 60); do echo "line $i"; done\n'
        'echo "waiting for the test" >&2\n'
        f"while [ ! -e {release} ]; do sleep 0.1; done\n"
        "echo released\n"
        "exit 3\n"
    )
    run.locator("[name=script]").fill(script)
    page.click("#run-submit")
    log = page.locator("#log")
    expect(log).to_contain_text("line 60", timeout=ANSIBLE_RUN_MS)
    expect(page.locator("#log span.stderr")).to_have_text("waiting for the test\n")
    expect(page.locator("#job-status")).to_have_text("running")  # it cannot end before the release: live
    first = job_id_in(page)
    assert log.evaluate("el => el.scrollHeight > el.clientHeight")
    page.wait_for_function(f"() => {{ const el = document.getElementById('log'); return {AT_BOTTOM}; }}")  # following
    shoot(page, "job-live-log")

    # ----- duplicated, and the copy canceled ------------------------------------------------------------
    page.click("#duplicate-job")
    page.wait_for_function("id => !location.hash.endsWith(id)", arg=first)
    copy = job_id_in(page)
    expect(log).to_contain_text("line 60", timeout=ANSIBLE_RUN_MS)
    expect(page.locator("#job-status")).to_have_text("running")
    page.click("#cancel-job")
    expect(page.locator("#job-status")).to_have_text("canceled", timeout=ANSIBLE_RUN_MS)
    expect(page.locator("#conn")).to_have_text("finished")

    # ----- back to the first: scrolled up, a network drop, then the rest --------------------------------
    page.go_back()
    expect(page.locator("#job-title")).to_have_text(f"Job {first}")
    expect(log).to_contain_text("waiting for the test")
    log.hover()
    page.mouse.wheel(0, -100_000)
    expect(page.locator("#follow")).to_be_visible()  # scrolling up stopped the auto-scroll
    stream_path = f"/api/v1/jobs/{first}/stream"
    last_shown = log.evaluate("el => Math.max(...[...el.querySelectorAll('span')].map((s) => Number(s.dataset.seq)))")
    assert last_shown > 0
    proxy.drop()
    resumed = re.compile(rf"^last-event-id: {last_shown}\r?$", re.IGNORECASE | re.MULTILINE)
    wait_until(
        lambda: any(resumed.search(head) for head in proxy.requests_for(stream_path)),
        timeout=PAGE_MS / 1000,
        what="the page to resume its stream with Last-Event-ID",
        interval=0.1,
    )
    expect(page.locator("#conn")).to_have_text("live")
    # Dropped again, and the gateway answers 502 for a while: the browser gives up on the stream, the page
    # does not, and comes back after the same chunk with ?last_event_id=.
    proxy.failing = True
    proxy.drop()
    expect(page.locator("#conn")).to_have_text("reconnecting…", timeout=PAGE_MS)
    refused = len(proxy.requests_for(stream_path))
    wait_until(lambda: len(proxy.requests_for(stream_path)) > refused, PAGE_MS / 1000, "the page to try again", 0.1)
    proxy.failing = False
    reopened = re.compile(rf"^GET {stream_path}\?last_event_id={last_shown} ")
    wait_until(
        lambda: any(reopened.match(head) for head in proxy.requests_for(stream_path)),
        timeout=PAGE_MS / 1000 * 4,
        what="the page to reopen its stream with ?last_event_id=",
        interval=0.1,
    )
    expect(page.locator("#conn")).to_have_text("live")
    release.touch()
    expect(page.locator("#job-status")).to_have_text("failed", timeout=ANSIBLE_RUN_MS)
    expect(page.locator("#job-exit")).to_have_text("exit code 3")
    stdout = "".join(page.locator("#log span.stdout").all_inner_texts())
    assert stdout == "".join(f"line {i}\n" for i in range(1, 61)) + "released\n"  # no gap, nothing twice
    assert log.evaluate("el => el.scrollTop") == 0  # new output did not pull the reader down
    page.mouse.wheel(0, 100_000)
    expect(page.locator("#follow")).to_be_hidden()  # back at the bottom: following again

    # ----- the jobs list: updates itself, filters, searches, sorts, pages ------------------------------
    page.get_by_role("link", name="Jobs").click()
    rows = page.locator("#jobs-rows tr")
    expect(rows).to_have_count(2)
    with httpx.Client(base_url=service.base_url, timeout=30) as http:
        servers = http.get("/api/v1/servers").json()["data"]["servers"]
        web_id = next(server["id"] for server in servers if server["name"] == "web-01")
        body = {"server_id": web_id, "command": "echo", "args": "'<b>not bold</b>'"}
        third = http.post("/api/v1/jobs", json=body).json()["data"]["id"]
    fresh = page.locator(f"#jobs-rows tr[data-job='{third}']")
    expect(fresh.locator(".status")).to_have_text("completed", timeout=ANSIBLE_RUN_MS)  # no reload needed
    expect(fresh.locator(".job-text")).to_have_text("echo '<b>not bold</b>'")  # text, not markup
    expect(page.locator("#jobs-rows b")).to_have_count(0)
    shoot(page, "jobs")

    page.locator("#jobs-status").select_option("canceled")
    expect(rows).to_have_count(1, timeout=PAGE_MS)
    expect(rows.first).to_have_attribute("data-job", copy)
    assert "status=canceled" in page.url  # the filters live in the address: a link keeps them
    page.locator("#jobs-status").select_option("")
    page.locator("#jobs-search").fill("NOT BOLD")
    expect(rows).to_have_count(1, timeout=PAGE_MS)
    expect(rows.first).to_have_attribute("data-job", third)
    page.locator("#jobs-search").fill("")
    expect(rows).to_have_count(3, timeout=PAGE_MS)
    expect(rows.first).to_have_attribute("data-job", third)  # newest first
    page.click("#jobs-table th[data-sort=created_at] button")
    expect(rows.first).to_have_attribute("data-job", first, timeout=PAGE_MS)  # oldest first
    page.goto(f"{proxy.url}/#/jobs?limit=2&sort_order=asc")
    expect(page.locator("#jobs-page")).to_have_text("Page 1 of 2 · 3 jobs", timeout=PAGE_MS)
    page.click("#jobs-next")
    expect(page.locator("#jobs-page")).to_have_text("Page 2 of 2 · 3 jobs", timeout=PAGE_MS)
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-job", third)

    # ----- the dashboard, and the older link to a job's log ---------------------------------------------
    page.get_by_role("link", name="Dashboard").click()
    for stat, value in {"total_servers": "2", "connected_servers": "2", "total_jobs": "3"}.items():
        expect(page.locator(f"[data-stat={stat}]")).to_have_text(value, timeout=PAGE_MS)
    for stat in ("completed_jobs", "failed_jobs", "canceled_jobs"):
        expect(page.locator(f"[data-stat={stat}]")).to_have_text("1")
    expect(page.locator("#dash-recent tr")).to_have_count(3)
    shoot(page, "dashboard")

    page.goto(f"{proxy.url}/?job={first}")
    expect(page.locator("#job-exit")).to_have_text("exit code 3", timeout=PAGE_MS)
    assert page.url.endswith(f"/#/jobs/{first}")
    assert page_errors == []


def test_with_api_keys_the_page_asks_for_the_key_once(
    page: Page, page_errors: list[str], service: Service, sshd: SshTarget
) -> None:
    def newremora(*args: str) -> str:
        env = {**os.environ, "NEWREMORA_DATA_DIR": str(service.workdir / "var")}
        done = subprocess.run([NEWREMORA, *args], env=env, capture_output=True, text=True, timeout=60, check=True)
        return done.stdout

    made = newremora("token", "create", "--name", "browser")
    key, key_id = made.strip().splitlines()[-1], made.split()[2]
    try:
        service.wait_for_keys(401)  # made by another process: counts within a second
        bearer = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=service.base_url, timeout=30, headers=bearer) as http:
            name = f"keyed-{uuid.uuid4().hex[:6]}"
            server = http.post("/api/v1/servers", json=sshd.server_body(name)).json()["data"]
            body = {"server_id": server["id"], "command": "echo", "args": "through the key"}
            job = http.post("/api/v1/jobs", json=body).json()["data"]["id"]

        page.goto(f"{service.base_url}/#/jobs/{job}")
        expect(page.locator("#key-dialog")).to_be_visible()
        page.click("#key-cancel")  # not now: the page says what is missing and does not nag
        expect(page.locator("#job-error")).to_have_text("An API key is required")
        expect(page.locator("#key-dialog")).to_be_hidden()
        page.click("#enter-key")
        page.fill("#key-input", "nr_not-the-key")
        page.click("#key-ok")
        expect(page.locator("#key-reason")).to_contain_text("refused")
        page.fill("#key-input", key)
        page.click("#key-ok")
        # The stream (EventSource, no headers) is let in by the key too.
        expect(page.locator("#log")).to_have_text("through the key\n", timeout=ANSIBLE_RUN_MS)
        expect(page.locator("#job-status")).to_have_text("completed")
        expect(page.locator("#key-state")).to_be_visible()
        expect(page.locator("#job-meta")).to_contain_text(f"Submitted bykey:{key_id}")  # <dt><dd>: no space

        page.reload()  # entered once: kept for the tab
        page.get_by_role("link", name="Jobs").click()
        expect(page.locator(f"#jobs-rows tr[data-job='{job}']")).to_be_visible()
        expect(page.locator("#key-dialog")).to_be_hidden()

        page.click("#forget-key")
        expect(page.locator("#key-dialog")).to_be_visible()
        assert page.evaluate("sessionStorage.getItem('newremora.apiKey')") is None
        assert page_errors == []
    finally:
        newremora("token", "revoke", key[:10])
        service.wait_for_keys(200)  # open again for the next tests


def test_a_job_on_a_group_from_the_page_runs_on_each_of_its_servers(
    page: Page, page_errors: list[str], service: Service, sshd: SshTarget
) -> None:
    group = f"g{uuid.uuid4().hex[:8]}"
    with httpx.Client(base_url=service.base_url, timeout=30) as api:
        for number in (1, 2):
            body = {**sshd.server_body(f"{group}-{number}"), "groups": [group]}
            assert api.post("/api/v1/servers", json=body).status_code == 201
    page.goto(f"{service.base_url}/#/run")
    run = page.locator("#run-form")
    run.locator("[name=target_kind]").select_option(label="Group")
    run.locator("[name=target]").select_option(label=f"{group} (2 servers)")
    run.locator("[name=command]").fill("echo from-the-group")
    page.click("#run-submit")
    # A batch: the page lists its jobs, which end one per server.
    page.wait_for_url(re.compile(r"#/jobs\?batch_id=[0-9a-f-]{36}$"))
    rows = page.locator("#jobs-rows tr")
    expect(rows).to_have_count(2, timeout=ANSIBLE_RUN_MS)
    for number in (1, 2):
        expect(rows.filter(has_text=f"{group}-{number}")).to_contain_text("completed", timeout=ANSIBLE_RUN_MS)
    assert page_errors == []
