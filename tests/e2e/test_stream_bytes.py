"""NUL bytes live over SSE through a real Hypercorn server, on SQLite and on PostgreSQL: the stream carries them
as JSON "\\u0000" while the job runs, the text endpoint as the byte 0, and the job completes (on PostgreSQL the
output after a NUL used to be lost and the job failed)."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.harness.service import Service
from tests.harness.sse import collect, joined
from tests.harness.sshd import SshTarget

pytestmark = pytest.mark.slow

# The reported command, slower: the stream is open before the first line, so it comes live.
NUL_THEN_MORE = "sleep 1; printf 'a\\000b\\n'; sleep 1; printf 'more\\000\\n'; printf 'e\\000' >&2"


@pytest.fixture(params=["sqlite", "postgresql"])
def service(request: pytest.FixtureRequest, tmp_path: Path, control_root: Path) -> Iterator[Service]:
    env = {"NEWREMORA_WORKERS": "2", "NEWREMORA_CONTROL_DIR": tempfile.mkdtemp(dir=control_root)}
    if request.param == "postgresql":
        env = {**request.getfixturevalue("pg_env"), **env}
    started = Service.start(tmp_path / "service", env)
    yield started
    started.stop()


async def test_nul_bytes_arrive_live_and_in_the_text(service: Service, sshd: SshTarget) -> None:
    async with httpx.AsyncClient(base_url=service.base_url, timeout=60) as http:
        server = await http.post("/api/v1/servers", json=sshd.server_body(f"s-{uuid.uuid4().hex[:8]}"))
        assert server.status_code == 201, server.text
        job = await http.post("/api/v1/jobs", json={"server_id": server.json()["data"]["id"], "command": NUL_THEN_MORE})
        assert job.status_code == 201, job.text
        job_id = job.json()["data"]["id"]
        received = await collect(http, f"/api/v1/jobs/{job_id}/stream")
        stdout = await http.get(f"/api/v1/jobs/{job_id}/stdout")
        detail = (await http.get(f"/api/v1/jobs/{job_id}")).json()["data"]
    complete = received[-1].json()
    assert (complete["status"], complete["exit_code"], complete["error"]) == ("completed", 0, None)
    assert joined(received, "stdout") == "a\x00b\nmore\x00\n" and joined(received, "stderr") == "e\x00"
    first = next(e for e in received if e.name == "output")
    assert '"a\\u0000b\\n"' in first.data  # JSON's own escape
    assert received[-1].arrived - first.arrived > 0.5  # it came while the job ran
    assert stdout.content == b"a\x00b\nmore\x00\n"
    assert (detail["stdout"], detail["stderr"]) == ("a\x00b\nmore\x00\n", "e\x00")
