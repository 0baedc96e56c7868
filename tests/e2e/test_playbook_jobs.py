"""Playbook jobs through a real Hypercorn server, sshd and ansible-runner: task events live over SSE, restarts."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.harness.processes import live_processes_mentioning
from tests.harness.service import Service
from tests.harness.sse import Event, collect, events
from tests.harness.sshd import SshTarget
from tests.harness.wait import wait_until

pytestmark = pytest.mark.slow

PLAYBOOKS = Path(__file__).resolve().parents[1] / "playbooks"


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, control_root: Path) -> Iterator[Service]:
    env = {
        "NEWREMORA_WORKERS": "2",
        "NEWREMORA_PLAYBOOK_DIR": str(PLAYBOOKS),
        "NEWREMORA_CONTROL_DIR": tempfile.mkdtemp(dir=control_root),
        "NEWREMORA_RATE_LIMIT": "0",
    }
    started = Service.start(tmp_path_factory.mktemp("playbook-service"), env)
    yield started
    started.stop()


def task_names(received: list[Event]) -> list[str]:
    return [e.json()["task"] for e in received if e.name == "task"]


async def test_task_events_stream_live_and_the_job_ends_completed(service: Service, sshd: SshTarget) -> None:
    marker = uuid.uuid4().hex
    greeting = f"hi {marker[:6]}"
    go_file = sshd.user.home / f"nr-{marker}.go"
    async with httpx.AsyncClient(base_url=service.base_url, timeout=60) as http:
        server = await http.post("/api/v1/servers", json=sshd.server_body("pb-web"))
        assert server.status_code == 201, server.text
        body = {
            "playbook": "install_and_facts.yml",
            "server_id": server.json()["data"]["id"],
            "extra_vars": {"marker": marker, "greeting": greeting},
        }
        submitted = await http.post("/api/v1/jobs/playbook", json=body)
        assert submitted.status_code == 201, submitted.text
        job_id = submitted.json()["data"]["id"]

        received: list[Event] = []
        async with http.stream("GET", f"/api/v1/jobs/{job_id}/stream") as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            async for event in events(response):
                received.append(event)
                if event.name == "task" and event.json()["task"] == "echo facts":
                    # The play is still waiting for the go signal: this event came while the job runs.
                    assert (await http.get(f"/api/v1/jobs/{job_id}")).json()["data"]["status"] == "running"
                    assert not go_file.exists()
                    go_file.touch()
                if event.name == "complete":
                    break

        names = [e.name for e in received if e.name != ":"]
        assert names[0] == "status" and names[-2:] == ["status", "complete"]
        assert received[-1].json()["status"] == "completed" and received[-1].json()["exit_code"] == 0
        tasks = [e.json() for e in received if e.name == "task"]
        assert [(t["task"], t["status"]) for t in tasks] == [
            ("Gathering Facts", "ok"),
            ("install the greeting file", "changed"),
            ("echo facts", "ok"),
            ("wait for the go signal", "ok"),
            ("show the greeting", "ok"),
        ]
        assert {t["host"] for t in tasks} == {"pb-web"}
        assert tasks[1]["changed"] is True
        assert tasks[2]["msg"].startswith(f"user={sshd.user.name} python=3")
        assert tasks[4]["stdout"] == f"hello from pb-web: {greeting}"
        installed = sshd.user.home / f"nr-{marker}.txt"
        assert installed.read_text() == f"hello from pb-web: {greeting}\n"
        assert installed.stat().st_mode & 0o777 == 0o600

        # Task events and output share one numbering: a resume after a task event gets exactly the rest.
        ids = [int(e.event_id or 0) for e in received if e.name in ("task", "output")]
        assert ids == sorted(set(ids))
        facts_id = next(e.event_id for e in received if e.name == "task" and e.json()["task"] == "echo facts")
        resumed = await collect(http, f"/api/v1/jobs/{job_id}/stream", headers={"Last-Event-ID": str(facts_id)})
        assert task_names(resumed) == ["wait for the go signal", "show the greeting"]
        assert resumed[-1].name == "complete"
        listed = (await http.get(f"/api/v1/jobs/{job_id}/tasks")).json()["data"]["tasks"]
        assert [t["task"] for t in listed] == task_names(received)

        stdout = (await http.get(f"/api/v1/jobs/{job_id}/stdout")).text
        assert "TASK [wait for the go signal]" in stdout and "ok: [pb-web]" in stdout and "PLAY RECAP" in stdout
        streamed = "".join(e.json()["content"] for e in received if e.name == "output")
        assert streamed == stdout


def test_a_restart_marks_running_playbook_jobs_interrupted(
    tmp_path: Path, services: list[Service], sshd: SshTarget, control_root: Path
) -> None:
    """A playbook runs inside its Ansible process: when that is gone, the job cannot be re-attached."""
    env = {
        "NEWREMORA_WORKERS": "1",
        "NEWREMORA_PLAYBOOK_DIR": str(PLAYBOOKS),
        "NEWREMORA_CONTROL_DIR": tempfile.mkdtemp(dir=control_root),
        "NEWREMORA_RATE_LIMIT": "0",
    }

    def start() -> Service:
        started = Service.start(tmp_path, env)  # the same data dir each time: the same database
        services.append(started)
        return started

    def pausing_job(http: httpx.Client, server_id: str) -> str:
        response = http.post("/api/v1/jobs/playbook", json={"playbook": "pause.yml", "server_id": server_id})
        assert response.status_code == 201, response.text
        job_id = str(response.json()["data"]["id"])
        wait_for(http, job_id, lambda j: "TASK [pause]" in j["stdout"])
        return job_id

    first = start()
    with httpx.Client(base_url=first.base_url, timeout=30) as http:
        server_id = http.post("/api/v1/servers", json=sshd.server_body("pb-restart")).json()["data"]["id"]
        killed = pausing_job(http, server_id)
    first.kill_all()

    second = start()
    with httpx.Client(base_url=second.base_url, timeout=30) as http:
        lost = wait_for(http, killed, lambda j: j["status"] != "running")
        assert (lost["status"], lost["failure_reason"]) == ("failed", "interrupted")
        assert "cannot be re-attached" in lost["error"]
        stopped = pausing_job(http, server_id)
    assert second.terminate(timeout=30) == 0  # SIGTERM ends the run at once: no 300 s pause to wait for
    assert live_processes_mentioning(str(tmp_path)) == []

    third = start()
    with httpx.Client(base_url=third.base_url, timeout=30) as http:
        ended = wait_for(http, stopped, lambda j: True)
    assert (ended["status"], ended["failure_reason"]) == ("failed", "interrupted")
    assert "the service stopped" in ended["error"]


def wait_for(http: httpx.Client, job_id: str, condition: Any, timeout: float = 60) -> dict[str, Any]:
    def current() -> dict[str, Any]:
        response = http.get(f"/api/v1/jobs/{job_id}")
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()["data"]
        return data

    return wait_until(current, timeout, f"job {job_id}", 0.1, done=condition)
