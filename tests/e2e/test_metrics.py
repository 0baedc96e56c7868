"""/metrics and JSON logs of one `newremora serve` (API and workers) running real jobs on a real sshd, read as
Prometheus and a log collector would read them."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.harness.metrics import Scrape
from tests.harness.service import NEWREMORA, Service
from tests.harness.sse import events
from tests.harness.sshd import SshTarget
from tests.harness.wait import wait_until_async

pytestmark = pytest.mark.slow

METRICS_TOKEN = f"scrape-{secrets.token_hex(8)}"


@pytest.fixture
def service(tmp_path: Path, control_root: Path) -> Iterator[Service]:
    env = {
        "NEWREMORA_WORKERS": "2",
        # One job at a time per server: a second job for a busy server waits in the queue.
        "NEWREMORA_SERVER_CONCURRENCY": "1",
        "NEWREMORA_METRICS_TOKEN": METRICS_TOKEN,
        "NEWREMORA_LOG_FORMAT": "json",
        "NEWREMORA_CONTROL_DIR": tempfile.mkdtemp(dir=control_root),
        "NEWREMORA_RATE_LIMIT": "0",
    }
    started = Service.start(tmp_path, env)
    yield started
    started.stop()


def create_api_key(workdir: Path) -> str:
    result = subprocess.run(
        [NEWREMORA, "token", "create", "--name", "ops"],
        env={k: v for k, v in os.environ.items() if not k.startswith("NEWREMORA_")},
        cwd=workdir,  # the service's default data dir, ./var
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


async def test_metrics_and_logs_follow_real_jobs(service: Service, sshd: SshTarget) -> None:
    key = create_api_key(service.workdir)  # API keys on: every /api/v1 call needs one from now on
    async with (
        httpx.AsyncClient(base_url=service.base_url, timeout=60, headers={"Authorization": f"Bearer {key}"}) as api,
        httpx.AsyncClient(base_url=service.base_url, timeout=60) as anonymous,
    ):

        async def scrape() -> Scrape:
            response = await anonymous.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
            assert response.status_code == 200, response.text
            assert response.headers["Content-Type"].startswith("text/plain")
            return Scrape.parse(response.text)

        async def submit(server_id: str, command: str, request_id: str | None = None) -> str:
            headers = {"X-Request-ID": request_id} if request_id else {}
            response = await api.post(
                "/api/v1/jobs", json={"server_id": server_id, "command": command}, headers=headers
            )
            assert response.status_code == 201, response.text
            return str(response.json()["data"]["id"])

        async def job(job_id: str) -> dict[str, Any]:
            data: dict[str, Any] = (await api.get(f"/api/v1/jobs/{job_id}")).json()["data"]
            return data

        async def finished(job_id: str) -> dict[str, Any]:
            await wait_until_async(
                lambda: job(job_id),
                60,
                f"job {job_id} to end",
                0.2,
                done=lambda j: j["status"] in ("completed", "failed", "canceled"),
            )
            return await job(job_id)

        # The scraper holds the metrics token, never an API key (which could run commands everywhere).
        refused = await anonymous.get("/metrics")
        assert refused.status_code == 401 and "metrics token" in refused.json()["error"]
        assert (await api.get("/metrics")).status_code == 401
        idle = await scrape()
        assert idle.value("newremora_database_up") == 1
        assert idle.value("newremora_process_info", role="serve", version="0.1.0") == 1
        assert (idle.value("newremora_worker_slots"), idle.value("newremora_worker_busy_slots")) == (2, 0)
        assert idle.value("newremora_jobs", status="completed") == 0
        assert idle.value("newremora_workers_live") == 1 and idle.value("newremora_worker_capacity_jobs") == 64

        names = ["long", "quick-1", "quick-2", "quick-3"]
        servers = {}
        for name in names:
            created = await api.post("/api/v1/servers", json=sshd.server_body(name))
            servers[name] = created.json()["data"]["id"]

        # A long job with its stream open, and a second job for the same server waiting behind it.
        long_id = await submit(servers["long"], "echo started; sleep 120", request_id="trace-long-job")
        async with api.stream("GET", f"/api/v1/jobs/{long_id}/stream") as stream:
            received = events(stream)
            async for event in received:
                if event.name == "output":
                    break
            waiting_id = await submit(servers["long"], "echo later")
            busy = await scrape()
            assert busy.value("newremora_sse_clients") == 1
            assert busy.value("newremora_worker_busy_slots") == 1 and busy.value("newremora_worker_running_jobs") == 1
            assert busy.value("newremora_jobs", status="running") == 1
            assert busy.value("newremora_jobs", status="queued") == busy.value("newremora_queue_depth") == 1
            assert busy.value("newremora_queue_oldest_age_seconds") > 0

            # Two jobs that succeed and one that fails, meanwhile, on servers of their own.
            quick = [
                await submit(servers["quick-1"], "echo hi"),
                await submit(servers["quick-2"], "echo hi"),
                await submit(servers["quick-3"], "echo oops >&2; exit 3"),
            ]
            assert [(await finished(j))["status"] for j in quick] == ["completed", "completed", "failed"]
            assert (await api.post(f"/api/v1/jobs/{long_id}/cancel")).status_code == 202
            async for event in received:
                if event.name == "complete":
                    assert event.json()["status"] == "canceled"
                    break
        assert (await finished(waiting_id))["status"] == "completed"

        async def settled() -> bool:
            # Runs are counted when they end: the kill play's soon after the cancel, a job run's once it has had
            # no more work for a moment (it stays warm for the next jobs).
            now = await scrape()
            ended = [
                now.total("newremora_ansible_run_duration_seconds_count", playbook=p) for p in ("run_jobs", "cancel")
            ]
            return (
                now.value("newremora_sse_clients") == 0 and now.value("newremora_worker_busy_slots") == 0 and all(ended)
            )

        await wait_until_async(settled, 60, "the stream to close and the worker slots to be idle", 0.2)
        done = await scrape()
        counts = {s: done.value("newremora_jobs", status=s) for s in ("completed", "failed", "canceled", "running")}
        assert counts == {"completed": 3, "failed": 1, "canceled": 1, "running": 0}
        assert done.value("newremora_queue_depth") == done.value("newremora_queue_oldest_age_seconds") == 0
        durations = {s: done.value("newremora_job_duration_seconds_count", status=s) for s in counts if s != "running"}
        assert durations == {"completed": 3, "failed": 1, "canceled": 1}
        assert done.value("newremora_job_duration_seconds_sum", status="canceled") > 0
        assert done.value("newremora_jobs_finished_total", status="failed", failure_reason="nonzero_exit") == 1
        # Every byte the targets printed, counted once: "started\n", "hi\n" twice, "later\n"; "oops\n".
        assert done.value("newremora_output_bytes_total", stream="stdout") == len("started\nhi\nhi\nlater\n")
        assert done.value("newremora_output_bytes_total", stream="stderr") == len("oops\n")
        assert done.total("newremora_ansible_run_duration_seconds_count", playbook="run_jobs") >= 1
        assert done.total("newremora_ansible_run_duration_seconds_count", playbook="cancel") >= 1
        assert done.value("process_resident_memory_bytes") > 0

    # One JSON object per line, and a job can be followed from the request that made it to its end.
    lines = [json.loads(line) for line in service.log().splitlines() if line.strip()]
    assert all({"time", "level", "logger", "message"} <= line.keys() for line in lines)
    of_long = [line for line in lines if line.get("job_id") == long_id]
    assert any(line.get("request_id") == "trace-long-job" and "queued" in line["message"] for line in of_long)
    assert any("finished: canceled" in line["message"] for line in of_long)
    scrapes = [line for line in lines if line.get("path") == "/metrics"]
    assert scrapes and {line["status"] for line in scrapes} == {200, 401}
