"""Two processes on one PostgreSQL: a stream served by an API-only node shows, live, the output of a job that
a worker node runs (woken by LISTEN/NOTIFY, not by the fallback polling)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.harness.service import Service
from tests.harness.sse import collect
from tests.harness.sshd import SshTarget

pytestmark = pytest.mark.slow

TICKER = 'for i in $(seq 1 8); do echo "line $i $(date +%s.%N)"; sleep 0.4; done'


@pytest.fixture
def nodes(tmp_path: Path, pg_env: dict[str, str]) -> Iterator[tuple[Service, Service]]:
    # Streams re-read the database only once a minute here: whatever arrives sooner was woken by NOTIFY.
    shared = {**pg_env, "NEWREMORA_SSE_FALLBACK_POLL": "60"}
    started: list[Service] = []
    try:
        started.append(Service.start(tmp_path / "api", {**shared, "NEWREMORA_WORKERS": "0"}))
        started.append(Service.start(tmp_path / "worker", {**shared, "NEWREMORA_WORKERS": "2"}))
        yield started[0], started[1]
    finally:
        for service in started:
            service.stop()


async def test_a_stream_on_one_node_is_woken_by_a_job_on_another(
    nodes: tuple[Service, Service], sshd: SshTarget
) -> None:
    api, _worker = nodes
    async with httpx.AsyncClient(base_url=api.base_url, timeout=60) as http:
        server = await http.post(
            "/api/v1/servers",
            json=sshd.server_body("pg-node"),
        )
        assert server.status_code == 201, server.text
        job = await http.post("/api/v1/jobs", json={"server_id": server.json()["data"]["id"], "command": TICKER})
        job_id = job.json()["data"]["id"]
        received = await collect(http, f"/api/v1/jobs/{job_id}/stream")
        stdout = (await http.get(f"/api/v1/jobs/{job_id}/stdout")).text
    outputs = [e for e in received if e.name == "output"]
    assert "".join(e.json()["content"] for e in outputs) == stdout
    assert received[-1].name == "complete" and received[-1].json()["status"] == "completed"
    # Without the listener nothing would come before the fallback's minute; the lines came while the job ran.
    assert received[-1].arrived - outputs[0].arrived > 2
