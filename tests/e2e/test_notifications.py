"""Notifications reach a real receiver on loopback from a real service process: signed, with the job's link, retried
after 500s with exponential back-off, and delivered exactly once although the service restarts between two
attempts (the outbox is in the database; the retry after the restart carries the same idempotency key)."""

from __future__ import annotations

import signal
import tempfile
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.jobs_api import finished, server, submit, wait_for
from tests.harness.service import Service
from tests.harness.sshd import SshTarget
from tests.harness.wait import wait_until
from tests.harness.webhook import Receiver

pytestmark = pytest.mark.slow

PUBLIC_URL = "https://newremora.example.test"
SECRET = "a-receiver-secret-of-some-length"


def _target(http: httpx.Client, name: str, url: str, output_format: str) -> dict[str, Any]:
    body = {"name": name, "url": url, "events": ["job.failed"], "format": output_format, "secret": SECRET}
    response = http.post("/api/v1/notification-targets", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()["data"]
    return created


def _deliveries(http: httpx.Client, target_id: str) -> list[dict[str, Any]]:
    response = http.get(f"/api/v1/notification-targets/{target_id}/deliveries")
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["data"]["deliveries"]
    return found


def test_a_failed_job_is_notified_once_through_500s_and_a_restart(
    tmp_path: Path, control_root: Path, services: list[Service], sshd: SshTarget
) -> None:
    env = {
        "NEWREMORA_WORKERS": "1",
        "NEWREMORA_CONTROL_DIR": tempfile.mkdtemp(dir=control_root),
        "NEWREMORA_RATE_LIMIT": "0",
        "NEWREMORA_PUBLIC_URL": PUBLIC_URL,
        "NEWREMORA_NOTIFY_BACKOFF": "2",
    }
    receiver = Receiver({"/json": [500, 500, 200], "/slack": [200]})
    with receiver.running():
        first = Service.start(tmp_path, env)
        services.append(first)
        with httpx.Client(base_url=first.base_url, timeout=30) as http:
            plain = _target(http, "receiver-json", f"{receiver.url}/json", "json")
            chat = _target(http, "receiver-slack", f"{receiver.url}/slack", "slack")
            assert plain["secret"] == SECRET and "secret" not in http.get("/api/v1/notification-targets").text
            receiver.hold("/json")  # the JSON target's first POST waits for release()
            job_id = submit(http, server(http, sshd), "echo about to fail; exit 3")
            assert wait_for(http, job_id, finished)["status"] == "failed"
            wait_until(receiver.waiting.is_set, 30, "the first notification to reach the receiver")
            # Stopped while the first attempt is under way: its answer is recorded on the way out.
            first.process.send_signal(signal.SIGTERM)
            receiver.release()
            assert first.process.wait(timeout=30) == 0, first.log()
        # The first 500 only: the retry is left to the next start.
        assert [r.answered for r in receiver.on("/json")] == [500]

        second = Service.start(tmp_path, env)
        services.append(second)
        with httpx.Client(base_url=second.base_url, timeout=30) as http:
            delivered = wait_until(
                lambda: _deliveries(http, plain["id"]),
                60,
                "the JSON target's delivery to succeed",
                0.2,
                done=lambda found: bool(found) and found[0]["state"] == "delivered",
            )
            slack_delivered = wait_until(
                lambda: _deliveries(http, chat["id"]),
                30,
                "the Slack target's delivery",
                0.2,
                done=lambda found: bool(found) and found[0]["state"] == "delivered",
            )

    # The JSON receiver: 500, 500, then 200, exactly one accepted, every attempt the same event and key.
    posts = receiver.on("/json")
    assert [p.answered for p in posts] == [500, 500, 200]
    assert len({p.headers["idempotency-key"] for p in posts}) == 1
    assert all(p.signed_by(SECRET) and p.headers["x-newremora-event"] == "job.failed" for p in posts)
    assert not posts[0].signed_by(SECRET + "x")
    body = posts[-1].json()
    assert body["event"] == "job.failed" and body["url"] == f"{PUBLIC_URL}/#/jobs/{job_id}"
    job = body["job"]
    assert (job["id"], job["status"], job["exit_code"], job["kind"]) == (job_id, "failed", 3, "command")
    assert job["finished_at"] and job["server"]["name"].startswith("e2e-")
    # The attempts, as the API shows them: one delivery, delivered at its third attempt, each attempt's status.
    assert len(delivered) == 1
    shown = delivered[0]
    assert (shown["attempts"], shown["event"], shown["subject_id"]) == (3, "job.failed", job_id)
    assert shown["idempotency_key"] == posts[0].headers["idempotency-key"]
    assert [(a["number"], a["status"]) for a in shown["attempt_log"]] == [(1, 500), (2, 500), (3, 200)]
    assert all(a["duration_ms"] >= 0 and a["at"] for a in shown["attempt_log"])
    # The Slack receiver: text and blocks, naming the job's end and linking its page.
    (chat_post,) = receiver.on("/slack")
    assert chat_post.signed_by(SECRET) and slack_delivered[0]["attempts"] == 1
    message = chat_post.json()
    assert set(message) == {"text", "blocks"}
    assert "failed (exit code 3)" in message["text"] and f"<{PUBLIC_URL}/#/jobs/{job_id}|open>" in message["text"]
    assert message["blocks"][0]["text"]["text"] == message["text"]
