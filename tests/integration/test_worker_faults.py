"""A job whose secret this process's key cannot decrypt fails with its own reason and the worker goes on; a
worker thread that dies is replaced, its job is not left `running`, and /health and /metrics say so."""

from __future__ import annotations

from typing import Any

import peewee as pw
import pytest
from cryptography.fernet import Fernet
from quart.typing import TestClientProtocol as Client

from app.workers import runs
from tests.harness.metrics import Scrape
from tests.harness.sshd import SshTarget
from tests.helpers import json_of, ok_data
from tests.jobs_helpers import password_server_for, submit, wait_finished

pytestmark = pytest.mark.slow


@pytest.fixture
def worker_threads() -> int:
    return 1  # one thread: a thread that died would leave nobody to run the next job


def encrypt_with_another_key(raw_db: pw.Database, server_id: str) -> None:
    """As a server stored by a process with its own key file."""
    token = Fernet(Fernet.generate_key()).encrypt(b"its password").decode()
    mark = "?" if isinstance(raw_db, pw.SqliteDatabase) else "%s"
    raw_db.execute_sql(f"UPDATE server SET password_enc = {mark} WHERE id = {mark}", (token, server_id))


async def scrape(client: Client) -> Scrape:
    response = await client.get("/metrics")
    assert response.status_code == 200
    return Scrape.parse(await response.get_data(as_text=True))


async def test_a_secret_encrypted_with_another_key_fails_its_job_alone(
    client: Client, sshd: SshTarget, raw_db: pw.Database
) -> None:
    unreadable = await password_server_for(client, sshd, name="other-key")
    good = await password_server_for(client, sshd, name="good")
    encrypt_with_another_key(raw_db, unreadable)

    failed = await wait_finished(client, await submit(client, unreadable, "echo never"))
    assert (failed["status"], failed["failure_reason"]) == ("failed", "secret_unreadable")
    assert failed["error"].startswith("server 'other-key': its password cannot be decrypted with this process's key")
    assert "its password" in failed["error"] and "NEWREMORA_SECRET_KEY" in failed["error"]
    done = await wait_finished(client, await submit(client, good, "echo fine"))  # the same thread goes on
    assert (done["status"], done["stdout"]) == ("completed", "fine\n")

    # The connectivity checks answer for it, and still check the others.
    tested = await ok_data(await client.post(f"/api/v1/servers/{unreadable}/test"))
    assert (tested["status"], tested["failure_reason"]) == ("disconnected", "secret_unreadable")
    checked = await ok_data(await client.post("/api/v1/servers/check-status"))
    by_id = {check["server_id"]: check for check in checked["servers"]}
    assert by_id[unreadable]["status"] == "disconnected" and "cannot be decrypted" in by_id[unreadable]["message"]
    assert by_id[good]["status"] == "connected"

    health = await json_of(await client.get("/health"))
    assert health["status"] == "healthy" and health["workers"]["threads_replaced"] == 0
    metrics = await scrape(client)
    assert metrics.value("newremora_jobs_finished_total", status="failed", failure_reason="secret_unreadable") == 1
    assert metrics.value("newremora_worker_threads_replaced_total", reason="died") == 0


async def test_a_dead_worker_thread_is_replaced_counted_and_its_job_ends(
    client: Client, sshd: SshTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = await password_server_for(client, sshd)
    run = runs.SlotRun.run
    calls: list[int] = []

    def dies_once(self: runs.SlotRun, claimed: Any) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("a bug in a run")
        run(self, claimed)

    monkeypatch.setattr(runs.SlotRun, "run", dies_once)
    first = await submit(client, server, "echo first")
    # Its thread died before starting it: handed back and re-attached (not left `running` forever).
    ended = await wait_finished(client, first, timeout=30)
    assert ended["status"] in ("completed", "failed"), ended
    later = await wait_finished(client, await submit(client, server, "echo later"))  # the new thread runs jobs
    assert (later["status"], later["stdout"]) == ("completed", "later\n")

    response = await client.get("/health")
    health = await json_of(response)
    # Still 200: the process works, but an operator should look.
    assert (response.status_code, health["status"]) == (200, "degraded")
    workers = health["workers"]
    assert (workers["threads"], workers["threads_replaced"]) == (1, 1)
    assert workers["last_replaced_reason"] == "worker-0 died (RuntimeError)" and workers["last_replaced_at"]
    metrics = await scrape(client)
    assert metrics.value("newremora_worker_threads_replaced_total", reason="died") == 1
    assert metrics.value("newremora_worker_threads_replaced_total", reason="stalled") == 0
