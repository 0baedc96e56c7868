"""PostgreSQL restarted under load: fast 503s while it is down, recovery without help, and every job
acknowledged with a 201 runs exactly once (checked on the target)."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.harness.postgres import PostgresCluster
from tests.harness.service import Service
from tests.harness.sshd import SshTarget
from tests.harness.wait import wait_until

pytestmark = pytest.mark.slow

# Submissions go out every 0.05 s: 15 acknowledged take a second or two; the bound only ends a broken run.
SUBMITTED_WITHIN = 120


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

        def answered(status: int, since: int = 0) -> int:
            return sum(1 for a in attempts[since:] if a.status == status)

        try:
            wait_until(lambda: answered(201) >= 15, SUBMITTED_WITHIN, "15 acknowledged submissions")
            pg_cluster.stop_server()
            # The outage lasts until 10 refusals or 20 s, whichever comes first; the refusals are asserted below.
            with contextlib.suppress(AssertionError):
                wait_until(lambda: answered(503) >= 10, 20, "10 refusals while PostgreSQL is down")
            pg_cluster.start_server()
            recovered = len(attempts)
            wait_until(lambda: answered(201, recovered) >= 15, SUBMITTED_WITHIN, "15 acknowledged after the restart")
        finally:
            done.set()
            submitter.join()

        acknowledged = [a for a in attempts if a.status == 201]
        refused = [a for a in attempts if a.status == 503]
        assert len(refused) >= 10 and {a.status for a in attempts} <= {201, 503}
        assert max(a.seconds for a in refused) < 10  # answered, not left hanging until the database returns

        def state_of(job_id: str | None) -> dict[str, Any]:
            data: dict[str, Any] = http.get(f"/api/v1/jobs/{job_id}").json()["data"]
            return data

        deadline = time.monotonic() + 120  # for all of them together
        for attempt in acknowledged:
            state = wait_until(
                partial(state_of, attempt.job_id),
                deadline - time.monotonic(),
                f"job {attempt.job_id} to end",
                0.1,
                done=lambda s: s["status"] not in ("queued", "starting", "running"),
            )
            assert state["status"] == "completed", state
    ran = ledger.read_text().split()
    assert sorted(ran) == sorted(a.token for a in acknowledged)  # each exactly once, and nothing refused ran
