"""Scale-out on PostgreSQL, with real processes on loopback: 2 API nodes (serve --no-workers), 3 worker
processes (newremora worker), 1 PostgreSQL, 4 sshd. Nothing home-made between the nodes: only the database."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.harness.fixtures import SshdFactory
from tests.harness.metrics import Scrape
from tests.harness.net import free_port
from tests.harness.processes import live_processes_mentioning
from tests.harness.service import Service
from tests.harness.sse import collect, events, joined
from tests.harness.sshd import SshTarget
from tests.harness.wait import wait_until, wait_until_async

pytestmark = pytest.mark.slow

JOBS = 300


@dataclass
class Cluster:
    api: list[Service]
    workers: list[Service]
    servers: list[str]
    targets: list[SshTarget]
    worker_metrics: list[str]  # the /metrics URL of each worker process


@pytest.fixture
def cluster(tmp_path: Path, pg_env: dict[str, str], sshd: SshTarget, sshd_factory: SshdFactory) -> Iterator[Cluster]:
    env = {**pg_env, "NEWREMORA_LOG_FORMAT": "json"}
    started: list[Service] = []
    metrics_ports = [free_port() for _ in range(3)]
    try:
        api = [Service.start(tmp_path / f"api-{i}", env, ("serve", "--no-workers")) for i in range(2)]
        started += api
        workers = [
            Service.start(
                tmp_path / f"worker-{i}",
                {**env, "NEWREMORA_METRICS_PORT": str(port)},
                ("worker", "--threads", "3", "--batch-size", "8"),
            )
            for i, port in enumerate(metrics_ports)
        ]
        started += workers
        targets = [sshd] + [sshd_factory().target for _ in range(3)]
        with httpx.Client(base_url=api[0].base_url, timeout=30) as http:
            servers = []
            for number, target in enumerate(targets):
                body = target.server_body(f"node-{number}")
                servers.append(http.post("/api/v1/servers", json=body).json()["data"]["id"])
            wait_for_workers(http, {w.process.pid for w in workers})
        yield Cluster(api, workers, servers, targets, [f"http://127.0.0.1:{port}/metrics" for port in metrics_ports])
    finally:
        for service in started:
            service.stop()


def wait_for_workers(http: httpx.Client, pids: set[int]) -> None:
    wait_until(
        lambda: {w["pid"] for w in http.get("/api/v1/system/enhanced").json()["data"]["worker_status"]["workers"]},
        30,
        f"worker processes {sorted(pids)} to show up",
        0.2,
        done=lambda shown: shown == pids,
    )


async def wait_finished(http: httpx.AsyncClient, job_id: str, timeout: float = 120) -> dict[str, Any]:
    async def job() -> dict[str, Any]:
        data: dict[str, Any] = (await http.get(f"/api/v1/jobs/{job_id}")).json()["data"]
        return data

    return await wait_until_async(
        job, timeout, f"job {job_id} to end", 0.2, done=lambda j: j["status"] in ("completed", "failed", "canceled")
    )


async def test_many_nodes_share_one_queue(cluster: Cluster) -> None:
    ledger = f"ledger-{uuid.uuid4().hex}"
    clients = [httpx.AsyncClient(base_url=node.base_url, timeout=60) for node in cluster.api]
    try:
        # 1. 300 jobs, round-robin over both API nodes and the four servers: each runs exactly once.
        async def submit(number: int) -> str:
            body = {"server_id": cluster.servers[number % 4], "command": f"echo {number} >> ~/{ledger}; echo {number}"}
            response = await clients[number % 2].post("/api/v1/jobs", json=body)
            assert response.status_code == 201, response.text
            return str(response.json()["data"]["id"])

        ids = [await submit(n) for n in range(JOBS)]
        results = [await wait_finished(clients[n % 2], job_id, timeout=300) for n, job_id in enumerate(ids)]
        failed = [(r["failure_reason"], r["error"], r["stderr"][-300:]) for r in results if r["status"] != "completed"]
        assert failed == []
        assert sorted(int(r["stdout"]) for r in results) == list(range(JOBS))
        # All targets serve one user, so one ledger: every job ran exactly once, checked on the target.
        ran = sorted(int(line) for line in (cluster.targets[0].user.home / ledger).read_text().split())
        assert ran == list(range(JOBS))
        assert all("finished: completed" in worker.log() for worker in cluster.workers)  # all took part
        await metrics_add_up(cluster, clients, ids)

        # 2. A stream on node A shows live output of a job submitted through node B, run by some worker;
        #    a cancel sent to node B stops a job whose stream is open on node A.
        ticker = 'for i in $(seq 1 6); do echo "tick $i $(date +%s.%N)"; sleep 0.3; done'
        live = await clients[1].post("/api/v1/jobs", json={"server_id": cluster.servers[0], "command": ticker})
        received = await collect(clients[0], f"/api/v1/jobs/{live.json()['data']['id']}/stream")
        ticks = [e for e in received if e.name == "output"]
        # Six lines; under load two lines printed 0.3 s apart may arrive in one poll, so one event.
        assert joined(received, "stdout").count("tick ") == 6 and received[-1].json()["status"] == "completed"
        assert received[-1].arrived - ticks[0].arrived > 1.0  # live, not all at the end

        marker = uuid.uuid4().hex
        doomed = await clients[0].post(
            "/api/v1/jobs", json={"server_id": cluster.servers[1], "command": f"echo started; sleep 300 # {marker}"}
        )
        doomed_id = doomed.json()["data"]["id"]
        async with clients[0].stream("GET", f"/api/v1/jobs/{doomed_id}/stream") as response:
            seen: list[str] = []
            async for event in events(response):
                seen.append(event.name)
                if event.name == "output":
                    canceled_at = time.monotonic()
                    assert (await clients[1].post(f"/api/v1/jobs/{doomed_id}/cancel")).status_code == 202
                if event.name == "complete":
                    assert event.json()["status"] == "canceled"
                    break
        assert time.monotonic() - canceled_at < 60  # stopped, not left to sleep its 300 s
        assert not live_processes_mentioning(marker)  # stopped on its target

        # 3. kill -9 of a worker process mid-run: its jobs are taken over and finish with complete output.
        long_ticker = 'for i in $(seq 1 40); do echo "line $i"; sleep 0.5; done'
        running = [
            (
                await clients[0].post(
                    "/api/v1/jobs", json={"server_id": cluster.servers[n % 4], "command": long_ticker}
                )
            ).json()["data"]["id"]
            for n in range(6)
        ]
        for job_id in running:
            await wait_until_async(
                partial(stdout_of, clients[0], job_id),
                60,
                f"job {job_id} to print line 2",
                0.2,
                done=lambda stdout: "line 2" in stdout,
            )
        status = (await clients[0].get("/api/v1/system/enhanced")).json()["data"]["worker_status"]["workers"]
        busy_pid = max(status, key=lambda w: w["running_jobs"])["pid"]
        victim = next(w for w in cluster.workers if w.process.pid == busy_pid)
        victim.kill_all()
        expected = "".join(f"line {i}\n" for i in range(1, 41))
        for job_id in running:
            done = await wait_finished(clients[1], job_id, timeout=120)
            assert (done["status"], done["stdout"]) == ("completed", expected), done
        # Nothing of the killed worker is left on its machine: its Ansible processes died with it.
        assert live_processes_mentioning(str(victim.workdir)) == []
    finally:
        for client in clients:
            await client.aclose()


async def stdout_of(http: httpx.AsyncClient, job_id: str) -> str:
    return str((await http.get(f"/api/v1/jobs/{job_id}")).json()["data"]["stdout"])


async def metrics_add_up(cluster: Cluster, clients: list[httpx.AsyncClient], ids: list[str]) -> None:
    """What Prometheus would scrape: the database's figures, the same from either API node; each worker
    process's own figures, which add up to the whole; and JSON logs that follow every job by its id."""
    for client in clients:
        fleet = Scrape.parse((await client.get("/metrics")).text)
        assert fleet.value("newremora_process_info", role="api", version="0.1.0") == 1
        assert fleet.value("newremora_jobs", status="completed") == JOBS
        assert fleet.value("newremora_queue_depth") == 0 and fleet.value("newremora_workers_live") == 3
        assert fleet.value("newremora_worker_slots_live") == 9 and fleet.value("newremora_worker_slots") == 0
    async with httpx.AsyncClient(timeout=30) as http:
        # A worker's run is counted when it ends, a moment after its last job (it stays warm for more work).
        async def scrape_workers() -> list[Scrape]:
            return [Scrape.parse((await http.get(url)).text) for url in cluster.worker_metrics]

        workers = await wait_until_async(
            scrape_workers,
            60,
            "every worker process to count a finished Ansible run",
            0.2,
            done=lambda ws: all(
                w.total("newremora_ansible_run_duration_seconds_count", playbook="run_jobs") for w in ws
            ),
        )
    assert all(w.value("newremora_process_info", role="worker", version="0.1.0") == 1 for w in workers)
    assert sum(w.value("newremora_job_duration_seconds_count", status="completed") for w in workers) == JOBS
    printed = sum(len(f"{n}\n") for n in range(JOBS))
    assert sum(w.value("newremora_output_bytes_total", stream="stdout") for w in workers) == printed
    assert all(w.total("newremora_ansible_run_duration_seconds_count", playbook="run_jobs") > 0 for w in workers)

    finished_by_log = set()
    for node in cluster.api + cluster.workers:
        for line in node.log().splitlines():
            record = json.loads(line)  # every line of every process is one JSON object
            if "finished: completed" in record["message"]:
                finished_by_log.add(record["job_id"])
    assert finished_by_log >= set(ids)
