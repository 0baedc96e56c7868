"""Template parameter values reach real jobs (a command over a real sshd, a playbook through ansible-runner) as
data only: shell and Jinja metacharacters come back byte for byte and run nothing, on the target or here; a secret
value reaches the job but is masked in its output, redacted on the job, in no process's argv and in no file; and
editing the template afterwards leaves the past job's version and values as they were."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path
from typing import Any

import peewee as pw
import pytest
from quart.typing import TestClientProtocol as Client

from tests.e2e.test_secrets import ArgvWatch
from tests.harness.sshd import SshTarget
from tests.helpers import error_of, ok_data
from tests.jobs_helpers import password_server_for, wait_finished

# Echoes the values back, as data: a debug task's message is its value as the play saw it.
ECHO_PLAYBOOK = """- hosts: all
  gather_facts: false
  tasks:
    - name: value
      ansible.builtin.debug:
        msg: "{{ value }}"
    - name: token
      ansible.builtin.debug:
        msg: "{{ token }}"
"""
pytestmark = pytest.mark.slow


@pytest.fixture
def worker_threads() -> int:
    return 2


@pytest.fixture
def settings_overrides(tmp_path: Path) -> dict[str, Any]:
    directory = tmp_path / "playbooks"
    directory.mkdir()
    (directory / "template_params.yml").write_text(ECHO_PLAYBOOK)
    return {"playbook_dir": directory}


def hostile(markers: Path) -> str:
    """Every way a value could be read as code, each one a `touch` of a marker file if it ever ran."""
    m = str(markers)
    return (
        f"$(touch {m}/dollar) `touch {m}/backtick` ; touch {m}/semicolon | touch {m}/pipe && touch {m}/and "
        f"{{{{ lookup('pipe', 'touch {m}/jinja') }}}} {{% if true %}}{{{{ 7 * 7 }}}}{{% endif %}} "
        f"'single' \"double\" \\back ${{HOME}} $PATH\nsecond line\n"
    )


PARAMETERS = [
    {"name": "value", "type": "string", "required": True},
    {"name": "token", "type": "secret", "required": True},
]


@pytest.mark.parametrize("db_kind", ["postgresql"])
async def test_values_reach_jobs_as_data_and_secrets_stay_secret(
    client: Client, sshd: SshTarget, tmp_path: Path, raw_db: pw.Database
) -> None:
    markers = tmp_path / "markers"
    markers.mkdir(mode=0o777)
    markers.chmod(0o777)  # the target's user could write here: a marker would show that anything ran
    value = hostile(markers)
    token = f"tok$(touch {markers}/secret)-{uuid.uuid4().hex}"
    server_id = await password_server_for(client, sshd, name="tpl-target")

    refused = await client.post(
        "/api/v1/templates",
        json={
            "name": "bad",
            "kind": "command",
            "command": "true",
            "server_id": server_id,
            "parameters": [{"name": "token", "type": "secret", "default": "x"}],
        },
    )
    assert await error_of(refused, 400) == "parameters[0].default: a secret parameter has no default"
    refused = await client.post(
        "/api/v1/templates",
        json={
            "name": "bad",
            "kind": "command",
            "command": "true",
            "server_id": server_id,
            "parameters": [{"name": "PATH", "type": "string"}],
        },
    )
    assert "parameters.0.name" in await error_of(refused, 400)

    command = {
        "name": "echo-command",
        "kind": "command",
        "command": 'printf %s "$value"; printf %s "$token" | sha256sum >&2; printf %s "$token"',
        "server_id": server_id,
        "parameters": PARAMETERS,
    }
    playbook = {
        "name": "echo-playbook",
        "kind": "playbook",
        "playbook": "template_params.yml",
        "server_id": server_id,
        "parameters": PARAMETERS,
    }
    ids = [
        (await ok_data(await client.post("/api/v1/templates", json=body), 201))["id"] for body in (command, playbook)
    ]
    listed = await client.get("/api/v1/templates")
    assert token not in await listed.get_data(as_text=True)

    with ArgvWatch([token]) as watch:
        jobs = [
            await ok_data(
                await client.post(
                    f"/api/v1/templates/{one}/launch", json={"parameters": {"value": value, "token": token}}
                ),
                201,
            )
            for one in ids
        ]
        for job in jobs:
            assert (job["template_version"], job["parameters"]) == (1, {"value": value, "token": "********"})
        ended = [await wait_finished(client, job["id"], timeout=120) for job in jobs]
    assert [one["status"] for one in ended] == ["completed", "completed"], ended
    assert watch.samples > 3 and watch.seen == []

    command_job, playbook_job = ended
    # The value came back byte for byte; the secret reached the job (its digest) and was masked in the output.
    assert command_job["stdout"] == value + "********"
    assert command_job["stderr"].split()[0] == hashlib.sha256(token.encode()).hexdigest()
    tasks = (await ok_data(await client.get(f"/api/v1/jobs/{playbook_job['id']}/tasks")))["tasks"]
    assert [task["msg"] for task in tasks] == [value, "********"]
    assert token not in playbook_job["output"]
    assert sorted(path.name for path in markers.iterdir()) == []  # nothing ran, there or here

    # Redacted on the job, and its encrypted copy gone now that it ended.
    kept = raw_db.execute_sql("SELECT COUNT(*) FROM job WHERE secret_parameters_enc IS NOT NULL").fetchone()[0]
    assert kept == 0
    home_files = [p for p in sshd.user.home.rglob("*") if p.is_file()]
    data_files = [p for p in tmp_path.rglob("*") if p.is_file() and "markers" not in p.parts]
    for path in home_files + data_files:
        assert token.encode() not in path.read_bytes(), path

    # A new version: the past job keeps its version and values.
    changed = await ok_data(await client.put(f"/api/v1/templates/{ids[0]}", json={**command, "command": "true"}))
    assert changed["version"] == 2
    versions = (await ok_data(await client.get(f"/api/v1/templates/{ids[0]}/versions")))["versions"]
    assert [one["version"] for one in versions] == [2, 1] and versions[1]["definition"]["command"] == command["command"]
    again = await ok_data(await client.get(f"/api/v1/jobs/{command_job['id']}"))
    assert (again["template_version"], again["command"], again["parameters"]) == (
        1,
        command["command"],
        {"value": value, "token": "********"},
    )
    await ok_data(await client.delete(f"/api/v1/templates/{ids[0]}"))
    assert (await ok_data(await client.get(f"/api/v1/jobs/{command_job['id']}")))["template_id"] == ids[0]
