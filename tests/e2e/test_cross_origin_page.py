"""A front end on another loopback port, in Debian's Chromium: with NEWREMORA_CORS_ORIGINS naming it and an API
key in force, its page lists servers, submits a job with Authorization, and tails the job's stream to the end.
Chromium's own CORS checks (preflight included) decide, as they would for a person's browser."""

from __future__ import annotations

import functools
import os
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser

from tests.harness.service import NEWREMORA, Service
from tests.harness.sshd import SshTarget

pytestmark = pytest.mark.slow


# The other site's page: plain fetch and EventSource, as a front end of its own would use them.
PAGE = """<!doctype html>
<meta charset="utf-8"><title>another front end</title>
<script>
async function exercise(api, key, command) {
  const auth = { Authorization: `Bearer ${key}` };
  const listed = await (await fetch(`${api}/api/v1/servers`, { headers: auth })).json();
  const serverId = listed.data.servers[0].id;
  const submitted = await fetch(`${api}/api/v1/jobs`, {
    method: "POST",
    headers: { ...auth, "Content-Type": "application/json" },
    body: JSON.stringify({ server_id: serverId, command }),
  });
  const job = (await submitted.json()).data;
  const requestId = submitted.headers.get("X-Request-ID");
  const events = await new Promise((resolve, reject) => {
    const seen = [];
    const source = new EventSource(`${api}/api/v1/jobs/${job.id}/stream?access_token=${encodeURIComponent(key)}`);
    source.addEventListener("output", (e) => seen.push(["output", JSON.parse(e.data).content]));
    source.addEventListener("complete", (e) => {
      seen.push(["complete", JSON.parse(e.data).status]);
      source.close();
      resolve(seen);
    });
    source.onerror = () => { if (seen.length === 0) { source.close(); reject(new Error("stream refused")); } };
  });
  return { names: listed.data.servers.map((s) => s.name), status: submitted.status, requestId, events };
}
</script>
"""


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def other_site(tmp_path: Path) -> Iterator[str]:
    """A tiny static server on another loopback port (port 0: the kernel picks one, no race)."""
    root = tmp_path / "site"
    root.mkdir()
    (root / "index.html").write_text(PAGE)
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_page_on_an_allowed_origin_lists_submits_and_tails_with_a_key(
    browser: Browser, tmp_path: Path, other_site: str, sshd: SshTarget, control_root: Path
) -> None:
    env = {
        "NEWREMORA_WORKERS": "1",
        "NEWREMORA_CONTROL_DIR": tempfile.mkdtemp(dir=control_root),
        "NEWREMORA_CORS_ORIGINS": other_site,
    }
    service = Service.start(tmp_path / "service", env)
    try:
        cli_env = {**os.environ, "NEWREMORA_DATA_DIR": str(service.workdir / "var")}
        created = subprocess.run(
            [NEWREMORA, "token", "create", "--name", "front-end"],
            env=cli_env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        key = created.stdout.strip().splitlines()[-1]
        service.wait_for_keys(401)
        bearer = {"Authorization": f"Bearer {key}"}
        response = httpx.post(
            f"{service.base_url}/api/v1/servers", json=sshd.server_body("cross-origin"), headers=bearer, timeout=30
        )
        assert response.status_code == 201, response.text

        page = browser.new_page()
        try:
            page.goto(f"{other_site}/index.html")
            result = page.evaluate(
                "([api, key, command]) => exercise(api, key, command)",
                [service.base_url, key, "echo first; sleep 1; echo second"],
            )
        finally:
            page.close()
    finally:
        service.stop()

    assert result["names"] == ["cross-origin"]
    assert result["status"] == 201 and result["requestId"]  # X-Request-ID is exposed to the page
    output = "".join(content for name, content in result["events"] if name == "output")
    assert output.split() == ["first", "second"]
    assert result["events"][-1] == ["complete", "completed"]
