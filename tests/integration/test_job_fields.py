"""Every submitted field of every kind of job reaches the job, and a duplicate copies each of them: the fields
travel from the request models to the jobs by name (app/jobqueue/submit.py), so one left behind shows here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import peewee as pw
import pytest
from quart.typing import TestClientProtocol as Client

from tests.helpers import create_server, error_of, ok_data, password_server

PLAYBOOKS = Path(__file__).resolve().parents[1] / "playbooks"

# Each kind with every field it takes set to something other than its default.
SUBMISSIONS = [
    pytest.param(
        "/api/v1/jobs",
        {
            "command": "ls",
            "args": "-la /tmp",
            "timeout": 61,
            "priority": 9,
            "become": True,
            "become_user": "postgres",
            "become_password": "sudo secret",
        },
        {"kind": "command", "script": None, "shell": None, "playbook": None, "extra_vars": None},
        id="command",
    ),
    pytest.param(
        "/api/v1/jobs/script",
        {
            "script": "echo hi\n",
            "shell": "/bin/sh",
            "timeout": 62,
            "priority": 2,
            "become": True,
            "become_user": "www-data",
            "become_password": "sudo secret",
        },
        {"kind": "script", "command": None, "args": None, "playbook": None, "extra_vars": None},
        id="script",
    ),
    pytest.param(
        "/api/v1/jobs/playbook",
        {
            "playbook": "echo_vars.yml",
            "extra_vars": {"version": "1.2", "n": [1, 2.5, None]},
            "timeout": 63,
            "priority": 8,
        },
        {"kind": "playbook", "command": None, "args": None, "script": None, "shell": None, "become": None},
        id="playbook",
    ),
]


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"playbook_dir": PLAYBOOKS}


def become_password_stored(raw_db: pw.Database, job_id: str) -> bool:
    row = raw_db.execute_sql(f"SELECT become_password_enc FROM job WHERE id = {raw_db.param}", [job_id]).fetchone()
    return row[0] is not None


@pytest.mark.parametrize(("path", "body", "implied"), SUBMISSIONS)
async def test_each_submitted_field_reaches_the_job_and_its_duplicate(
    client: Client, raw_db: pw.Database, path: str, body: dict[str, Any], implied: dict[str, Any]
) -> None:
    server = await create_server(client, password_server())
    job = await ok_data(await client.post(path, json={"server_id": server["id"], **body}), 201)
    shown = {name: value for name, value in body.items() if name != "become_password"}
    assert {name: job[name] for name in shown} == shown
    assert {name: job[name] for name in implied} == implied
    assert become_password_stored(raw_db, job["id"]) == ("become_password" in body)

    copy = (await ok_data(await client.post(f"/api/v1/jobs/{job['id']}/duplicate"), 201))["new_job"]
    assert copy["id"] != job["id"] and copy["server_id"] == server["id"] and copy["status"] == "queued"
    assert {name: copy[name] for name in (*shown, *implied)} == {**shown, **implied}
    assert become_password_stored(raw_db, copy["id"]) == ("become_password" in body)


async def test_a_duplicate_takes_the_overrides_of_its_own_kind_only(client: Client, raw_db: pw.Database) -> None:
    server = await create_server(client, password_server())
    other = await create_server(client, password_server("web-02"))
    command = await ok_data(
        await client.post("/api/v1/jobs", json={"server_id": server["id"], "command": "ls", "args": "-l"}), 201
    )
    script = await ok_data(
        await client.post("/api/v1/jobs/script", json={"server_id": server["id"], "script": "x"}), 201
    )
    playbook = await ok_data(
        await client.post("/api/v1/jobs/playbook", json={"server_id": server["id"], "playbook": "echo_vars.yml"}), 201
    )

    async def duplicate(job: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
        data = await ok_data(await client.post(f"/api/v1/jobs/{job['id']}/duplicate", json=overrides), 201)
        new_job: dict[str, Any] = data["new_job"]
        return new_job

    overridden = await duplicate(command, {"command": "true", "args": "", "timeout": 5, "priority": 1})
    assert [overridden[name] for name in ("command", "args", "timeout", "priority")] == ["true", "", 5, 1]
    overridden = await duplicate(script, {"script": "exit 0", "shell": "/bin/sh", "server_id": other["id"]})
    assert [overridden[name] for name in ("script", "shell", "server_id")] == ["exit 0", "/bin/sh", other["id"]]
    overridden = await duplicate(playbook, {"timeout": 7, "priority": 3, "server_id": other["id"]})
    assert [overridden[name] for name in ("playbook", "timeout", "priority", "server_id")] == [
        "echo_vars.yml",
        7,
        3,
        other["id"],
    ]

    before = int(raw_db.execute_sql("SELECT COUNT(*) FROM job").fetchone()[0])
    refused = [
        (command, {"shell": "/bin/sh"}, "script: the original job is a command; give command or args instead"),
        (command, {"script": "x"}, "script: the original job is a command; give command or args instead"),
        (script, {"args": "-l"}, "command: the original job is a script; give script or shell instead"),
        (script, {"command": "ls"}, "command: the original job is a script; give script or shell instead"),
        (
            playbook,
            {"shell": "/bin/sh"},
            "command: the original job is a playbook; only server_id, timeout and priority apply",
        ),
        (
            playbook,
            {"args": "x"},
            "command: the original job is a playbook; only server_id, timeout and priority apply",
        ),
        (playbook, {"playbook": "other.yml"}, "playbook: is not a known field"),
    ]
    for job, overrides, message in refused:
        response = await client.post(f"/api/v1/jobs/{job['id']}/duplicate", json=overrides)
        assert await error_of(response, 400) == message
    assert int(raw_db.execute_sql("SELECT COUNT(*) FROM job").fetchone()[0]) == before
