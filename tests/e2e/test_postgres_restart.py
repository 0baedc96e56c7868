"""PostgreSQL restarted under load: fast 503s while it is down, recovery without help, and every job
acknowledged with a 201 runs exactly once (checked on the target)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.harness.postgres import PostgresCluster
from tests.harness.service import Service
from tests.harness.sshd import SshTarget

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Attempt:
    token: str
    status: int | None  # None: the connection itself failed
    job_id: str | None
    seconds: float


@pytest.fixture
def service(tmp_path: Path, pg_env: dict[str, str]) -> Iterator[Service]:
    started = Service.start(tmp_path, {**pg_env, "NEWREMORA_WORKERS": "2"})
    yield started
    started.stop()


def test_postgres_restart_under_load(service: Service, pg_cluster: PostgresCluster, sshd: SshTarget) -> None:
    ledger = sshd.user.home / f"ledger-{uuid.uuid4().hex}"
    attempts: list[Attempt] = []
    done = threading.Event()
    with httpx.Client(base_url=service.base_url, timeout=30) as http:
        server = http.post(
            "/api/v1/servers",
            json=sshd.server_body("pg"),
        )
        server_id = server.json()["data"]["id"]

        def submit_continuously() -> None:
            while not done.is_set():
                token = uuid.uuid4().hex
                started = time.monotonic()
                body = {"server_id": server_id, "command": f"echo {token} >> ~/{ledger.name}"}
                try:
                    response = http.post("/api/v1/jobs", json=body)
                    job_id = response.json()["data"]["id"] if response.status_code == 201 else None
                    attempts.append(Attempt(token, response.status_code, job_id, time.monotonic() - started))
                except httpx.TransportError:
                    attempts.append(Attempt(token, None, None, time.monotonic() - started))
                time.sleep(0.05)  # a steady stream of submissions, not a synchronisation

        submitter = threading.Thread(target=submit_continuously)
        submitter.start()
        try:
            while sum(1 for a in attempts if a.status == 201) < 15:
                time.sleep(0.05)
            pg_cluster.stop_server()
            outage_started = time.monotonic()
            while sum(1 for a in attempts if a.status == 503) < 10 and time.monotonic() - outage_started < 20:
                time.sleep(0.05)
            pg_cluster.start_server()
            recovered = len(attempts)
            while sum(1 for a in attempts[recovered:] if a.status == 201) < 15:
                time.sleep(0.05)
        finally:
            done.set()
            submitter.join()

        acknowledged = [a for a in attempts if a.status == 201]
        refused = [a for a in attempts if a.status == 503]
        assert len(refused) >= 10 and {a.status for a in attempts} <= {201, 503}
        assert max(a.seconds for a in refused) < 10  # answered, not left hanging until the database returns
        deadline = time.monotonic() + 120
        for attempt in acknowledged:
            while (state := http.get(f"/api/v1/jobs/{attempt.job_id}").json()["data"])["status"] in (
                "queued",
                "running",
            ):
                assert time.monotonic() < deadline, state
                time.sleep(0.1)
            assert state["status"] == "completed", state
    ran = ledger.read_text().split()
    assert sorted(ran) == sorted(a.token for a in acknowledged)  # each exactly once, and nothing refused ran
