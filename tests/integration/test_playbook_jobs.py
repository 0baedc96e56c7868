"""Playbook jobs run for real: the API, the queue, a worker, ansible-runner and a real sshd."""

from __future__ import annotations

import json
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from quart.typing import TestClientProtocol as Client

from tests.harness.sshd import SshTarget
from tests.helpers import error_of, ok_data
from tests.jobs_helpers import password_server_for, wait_finished, wait_for_job

PLAYBOOKS = Path(__file__).resolve().parents[1] / "playbooks"


@pytest.fixture
def worker_threads() -> int:
    return 2


@pytest.fixture
def playbook_dir(tmp_path: Path) -> Path:
    """The test playbooks, plus a symlink that leads out of the directory (to a valid playbook)."""
    directory = tmp_path / "playbooks"
    shutil.copytree(PLAYBOOKS, directory)
    outside = tmp_path / "outside.yml"
    outside.write_text((PLAYBOOKS / "fails.yml").read_text())
    (directory / "escape.yml").symlink_to(outside)
    return directory


@pytest.fixture
def settings_overrides(playbook_dir: Path) -> dict[str, Any]:
    # The shortest stall timeout: a playbook silent for longer must still not be given up for dead.
    return {"playbook_dir": playbook_dir, "stall_timeout": 10}


async def submit_playbook(client: Client, body: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = await ok_data(await client.post("/api/v1/jobs/playbook", json=body), 201)
    return data


async def tasks_of(client: Client, job_id: str) -> list[dict[str, Any]]:
    data = await ok_data(await client.get(f"/api/v1/jobs/{job_id}/tasks"))
    tasks: list[dict[str, Any]] = data["tasks"]
    return tasks


@pytest.mark.slow
async def test_a_failing_task_fails_the_job_naming_host_and_task(client: Client, sshd: SshTarget) -> None:
    server_id = await password_server_for(client, sshd, name="web-01")
    submitted = await submit_playbook(client, {"playbook": "fails.yml", "server_id": server_id})
    assert (submitted["kind"], submitted["playbook"], submitted["status"]) == ("playbook", "fails.yml", "queued")
    assert submitted["batch_id"] is None and submitted["command"] is None

    done = await wait_finished(client, submitted["id"])
    assert (done["status"], done["failure_reason"], done["exit_code"]) == ("failed", "task_failed", 2)
    assert done["error"].startswith("task 'break on purpose' failed on web-01")

    tasks = await tasks_of(client, submitted["id"])
    summary = [(t["host"], t["task"], t["status"], t["ignored"]) for t in tasks]
    assert summary == [
        ("web-01", "a step that works", "ok", False),
        ("web-01", "a failure that is ignored", "failed", True),
        ("web-01", "break on purpose", "failed", False),
    ]
    assert (tasks[0]["stdout"], tasks[0]["changed"], tasks[0]["action"]) == ("fine", False, "ansible.builtin.command")
    assert (tasks[2]["rc"], tasks[2]["stderr"], tasks[2]["changed"]) == (3, "about to fail", True)
    assert [t["id"] for t in tasks] == sorted(t["id"] for t in tasks)

    # The play's own output is the job's output; the task events are not mixed into it.
    assert "TASK [break on purpose]" in done["stdout"] and "PLAY RECAP" in done["stdout"]
    assert "web-01" in done["stdout"] and '"task":' not in done["output"]
    assert "never reached" not in done["stdout"]


@pytest.mark.slow
async def test_extra_vars_are_inert_data(client: Client, sshd: SshTarget, tmp_path: Path) -> None:
    server_id = await password_server_for(client, sshd)
    canary = tmp_path / "templated-on-the-controller"
    lookup = "{{ lookup('pipe', 'touch " + str(canary) + "') }}"
    marker = uuid.uuid4().hex
    extra_vars = {
        "marker": marker,
        "text": lookup,
        "nested": {lookup: [lookup, "yes", "1.10", 7, True, None, "{% raw %}"]},
    }
    submitted = await submit_playbook(
        client, {"playbook": "echo_vars.yml", "server_id": server_id, "extra_vars": extra_vars}
    )
    assert submitted["extra_vars"] == extra_vars
    done = await wait_finished(client, submitted["id"])
    assert done["status"] == "completed", done
    written = json.loads((sshd.user.home / f"nr-vars-{marker}.json").read_text())
    assert written == {"text": lookup, "nested": extra_vars["nested"]}  # verbatim, strings stay strings
    assert lookup in done["stdout"]
    assert not canary.exists()


@pytest.mark.slow
@pytest.mark.parametrize("db_kind", ["sqlite"])
@pytest.mark.parametrize("worker_threads", [3])
async def test_cancel_and_timeout_end_the_run_and_silence_is_not_a_stall(client: Client, sshd: SshTarget) -> None:
    server_id = await password_server_for(client, sshd)
    canceled = (await submit_playbook(client, {"playbook": "pause.yml", "server_id": server_id}))["id"]
    timed_out = (await submit_playbook(client, {"playbook": "pause.yml", "server_id": server_id, "timeout": 3}))["id"]
    # Silent for longer than the stall timeout (10 s here): the worker must not give the job up for dead.
    silent = {"playbook": "pause.yml", "server_id": server_id, "extra_vars": {"pause_seconds": 12}}
    quiet = (await submit_playbook(client, silent))["id"]

    await wait_for_job(client, canceled, lambda j: "TASK [pause]" in j["stdout"])
    asked = time.monotonic()
    await ok_data(await client.post(f"/api/v1/jobs/{canceled}/cancel"), 202)
    done = await wait_finished(client, canceled, timeout=30)
    assert time.monotonic() - asked < 30  # not the pause's 300 s
    assert (done["status"], done["error"]) == ("canceled", "canceled by request")
    assert [t["task"] for t in await tasks_of(client, canceled)] == ["say hello"]

    late = await wait_finished(client, timed_out, timeout=60)
    assert (late["status"], late["failure_reason"], late["error"]) == ("failed", "timeout", "timed out after 3 s")

    patient = await wait_finished(client, quiet, timeout=90)
    assert patient["status"] == "completed", patient
    assert [(t["task"], t["status"]) for t in await tasks_of(client, quiet)] == [("say hello", "ok"), ("pause", "ok")]


@pytest.mark.slow
@pytest.mark.parametrize("db_kind", ["sqlite"])
async def test_several_servers_make_a_batch_and_a_play_for_other_hosts_fails(client: Client, sshd: SshTarget) -> None:
    first = await password_server_for(client, sshd, name="app-1", groups=["app"])
    second = await password_server_for(client, sshd, name="app-2", groups=["app"])
    by_ids = await submit_playbook(client, {"playbook": "fails.yml", "server_ids": [first, second], "priority": 9})
    by_group = await submit_playbook(client, {"playbook": "fails.yml", "group": "app", "priority": 9})
    for batch in (by_ids, by_group):
        assert len(batch["jobs"]) == 2 and batch["batch_id"]
        assert {j["batch_id"] for j in batch["jobs"]} == {batch["batch_id"]}
        assert [j["server_id"] for j in batch["jobs"]] == [first, second]
        for submitted, name in zip(batch["jobs"], ("app-1", "app-2"), strict=True):
            done = await wait_finished(client, submitted["id"])
            assert done["error"].startswith(f"task 'break on purpose' failed on {name}")

    nowhere = (await submit_playbook(client, {"playbook": "other_hosts.yml", "server_id": first}))["id"]
    done = await wait_finished(client, nowhere)
    assert (done["status"], done["failure_reason"]) == ("failed", "internal")
    assert "no play of other_hosts.yml ran on app-1" in done["error"]


@pytest.mark.parametrize("db_kind", ["sqlite"])
@pytest.mark.parametrize("worker_threads", [0])
async def test_bad_submissions_are_refused_and_create_nothing(client: Client) -> None:
    body = {"name": "srv", "hostname": "127.0.0.1", "user": "u", "auth_type": "password", "password": "p"}
    server_id = (await ok_data(await client.post("/api/v1/servers", json=body), 201))["id"]
    listed = await ok_data(await client.get("/api/v1/playbooks"))
    names = [p["name"] for p in listed["playbooks"]]
    assert names == ["echo_vars.yml", "fails.yml", "install_and_facts.yml", "other_hosts.yml", "pause.yml"]
    assert "escape.yml" not in names  # a symlink out of the directory is not a playbook of it

    def playbook(name: str, **extra: Any) -> dict[str, Any]:
        return {"playbook": name, "server_id": server_id, **extra}

    for name in ("../fails.yml", "/etc/passwd", "sub/fails.yml", "..", "fails.yml/..", ".hidden.yml", "fails"):
        assert "playbook:" in await error_of(await client.post("/api/v1/jobs/playbook", json=playbook(name)), 400)
    for name in ("escape.yml", "missing.yml"):
        message = await error_of(await client.post("/api/v1/jobs/playbook", json=playbook(name)), 404)
        assert message == "Playbook not found"
    refused_vars = [
        {"ansible_connection": "local"},
        {"ANSIBLE_ssh_common_args": "-o ProxyCommand=id"},
        {"hostvars": {}},
        {"bad-name": 1},
        {"{{ x }}": 1},
    ]
    for extra_vars in refused_vars:
        response = await client.post("/api/v1/jobs/playbook", json=playbook("fails.yml", extra_vars=extra_vars))
        assert "extra_vars" in await error_of(response, 400)
    # Python's JSON reader takes NaN and Infinity; they are not JSON and would not survive a listing.
    for number in ("NaN", "-Infinity"):
        raw = f'{{"playbook": "fails.yml", "server_id": "{server_id}", "extra_vars": {{"x": [1, {number}]}}}}'
        response = await client.post("/api/v1/jobs/playbook", data=raw, headers={"Content-Type": "application/json"})
        assert "NaN and Infinity" in await error_of(response, 400)
    both = {"playbook": "fails.yml", "server_id": server_id, "server_ids": [server_id]}
    assert "server_id" in await error_of(await client.post("/api/v1/jobs/playbook", json=both), 400)
    twice = {"playbook": "fails.yml", "server_ids": [server_id, server_id]}
    assert "once" in await error_of(await client.post("/api/v1/jobs/playbook", json=twice), 400)
    unknown = {"playbook": "fails.yml", "server_ids": [server_id, str(uuid.uuid4())]}
    assert await error_of(await client.post("/api/v1/jobs/playbook", json=unknown), 404) == "Server not found"
    typo = {**playbook("fails.yml"), "extravars": {}}
    assert "extravars: is not a known field" in await error_of(
        await client.post("/api/v1/jobs/playbook", json=typo), 400
    )
    assert (await ok_data(await client.get("/api/v1/jobs")))["jobs"] == []
