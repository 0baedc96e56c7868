"""Become: jobs run as another user through sudo, with the password from the server, a credential or the job."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import peewee as pw
import pytest
from quart.typing import TestClientProtocol as Client

from tests.harness.sshd import SshTarget, SudoRights
from tests.helpers import create_server, ok_data
from tests.jobs_helpers import processes_of, submit, submit_script, wait_finished, wait_for_job

pytestmark = pytest.mark.slow


PLAYBOOKS = Path(__file__).resolve().parents[1] / "playbooks"


@pytest.fixture
def worker_threads() -> int:
    return 2


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"playbook_dir": PLAYBOOKS}


def cmdlines_containing(secret: str) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if entry.name.isdigit() and secret.encode() in cmdline:
            found.append(cmdline.replace(b"\0", b" ").decode(errors="replace"))
    return found


@pytest.mark.parametrize("db_kind", ["sqlite"])
async def test_become_runs_as_the_become_user_and_cancel_reaches_it(
    client: Client, sshd: SshTarget, sudo_rights: SudoRights, raw_db: pw.Database
) -> None:
    user = sshd.user
    become_user = sudo_rights.become_user
    # 1. The server's own become settings.
    server = await create_server(
        client,
        {
            **sshd.server_body("becomes"),
            "become": True,
            "become_user": become_user,
            "become_password": user.password,
        },
    )
    assert (server["become"], server["become_user"], server["has_become_password"]) == (True, become_user, True)
    assert "become_password" not in server
    # 2. A plain server, and a job that asks for become with its own password.
    plain = await create_server(client, sshd.server_body("plain"))
    # 3. A server whose sudo password comes from a shared credential.
    credential = await ok_data(
        await client.post(
            "/api/v1/credentials", json={"name": "ops", "password": user.password, "become_password": user.password}
        ),
        201,
    )
    shared = await create_server(
        client,
        {
            "name": "shared",
            "hostname": sshd.host,
            "port": sshd.port,
            "user": user.name,
            "auth_type": "password",
            "credential_id": credential["id"],
            "become": True,
            "become_user": become_user,
        },
    )

    jobs = {
        "server": await submit(client, server["id"], "id -un; echo $HOME"),
        "job": await submit(
            client,
            plain["id"],
            "id -un",
            become=True,
            become_user=become_user,
            become_password=user.password,
        ),
        "credential": await submit(client, shared["id"], "id -un"),
        "not-asked": await submit(client, plain["id"], "id -un"),
        "opted-out": await submit(client, server["id"], "id -un", become=False),
    }
    results = {name: await wait_finished(client, job_id) for name, job_id in jobs.items()}
    assert results["server"]["stdout"] == f"{become_user}\n/home/{become_user}\n", results["server"]
    assert results["job"]["stdout"] == f"{become_user}\n", results["job"]
    assert results["job"]["become"] is True and "become_password" not in results["job"]
    assert results["credential"]["stdout"] == f"{become_user}\n", results["credential"]
    assert results["not-asked"]["stdout"] == results["opted-out"]["stdout"] == f"{user.name}\n"

    # A wrong sudo password fails the job, without the password anywhere in what is shown.
    wrong = await submit(
        client, plain["id"], "id -un", become=True, become_user=become_user, become_password="not-the-password"
    )
    failed = await wait_finished(client, wrong)
    assert (failed["status"], failed["failure_reason"], failed["stdout"]) == ("failed", "auth_failed", "")
    assert failed["error"] == f"sudo refused to run the job as {become_user!r}"
    assert "not-the-password" not in str(failed)

    # A running job under sudo: its password is on no command line; a cancel stops its processes.
    long_job = await submit(client, server["id"], "echo started; sleep 300")
    await wait_for_job(client, long_job, lambda j: "started" in j["stdout"])
    assert any("sleep 300" in p for p in processes_of(become_user))
    assert cmdlines_containing(user.password) == []
    canceled = await ok_data(await client.post(f"/api/v1/jobs/{long_job}/cancel"), 202)
    assert canceled["status"] == "running"
    done = await wait_finished(client, long_job)
    assert done["status"] == "canceled"
    assert not [p for p in processes_of(become_user) if "sleep 300" in p]
    # A job's own sudo password is kept only while the job may need it.
    kept = raw_db.execute_sql("SELECT COUNT(*) FROM job WHERE become_password_enc IS NOT NULL").fetchone()
    assert kept[0] == 0


async def refusals(client: Client, server_id: str, become: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A command job and a script job run with ``become``, submitted back to back, as the API shows them once
    they ended (the second shares the first's new connection: a refused first job must not keep it from running)."""
    command = await submit(client, server_id, "id -un", **become)
    script = await submit_script(client, server_id, "id -un", **become)
    return {"command": await wait_finished(client, command), "script": await wait_finished(client, script)}


def assert_refused(job: dict[str, Any], become_user: str, case: str = "") -> None:
    assert (job["status"], job["failure_reason"], job["error"], job["exit_code"]) == (
        "failed",
        "auth_failed",
        f"sudo refused to run the job as {become_user!r}",
        None,
    ), (case, job["error"])


async def test_sudo_refusals_are_auth_failed_with_one_line(
    client: Client, sshd: SshTarget, sudo_rights: SudoRights
) -> None:
    """Every way sudo refuses the job ends it the same documented way (docs/inventories.md, Become)."""
    user, become_user = sshd.user, sudo_rights.become_user
    plain = (await create_server(client, sshd.server_body("plain")))["id"]
    cases = {
        "wrong password": (become_user, {"become_password": "not-the-password"}),
        "missing password": (become_user, {}),
        # The user's rule names another become user: sudo checks the password, then refuses.
        "no rule for root": ("root", {"become_password": user.password}),
    }
    for case, (runs_as, password) in cases.items():
        for kind, job in (await refusals(client, plain, {"become": True, "become_user": runs_as, **password})).items():
            assert_refused(job, runs_as, f"{case}, {kind} job")
            assert job["stdout"] == "", (case, kind)  # nothing ran

    # A playbook job runs every task through the server's own become settings: refused the same way.
    server = await create_server(
        client,
        {**sshd.server_body("becomes"), "become": True, "become_user": become_user, "become_password": "wrong"},
    )
    submitted = await ok_data(
        await client.post("/api/v1/jobs/playbook", json={"playbook": "fails.yml", "server_id": server["id"]}), 201
    )
    assert_refused(await wait_finished(client, submitted["id"]), become_user)

    # A playbook run through sudo as a user the rule does not name: sudo's words never reach Ansible (the module
    # "fails to answer", with no output and exit code 1); the job still says sudo refused it.
    as_root = await create_server(
        client,
        {**sshd.server_body("as-root"), "become": True, "become_user": "root", "become_password": user.password},
    )
    submitted = await ok_data(
        await client.post("/api/v1/jobs/playbook", json={"playbook": "fails.yml", "server_id": as_root["id"]}), 201
    )
    assert_refused(await wait_finished(client, submitted["id"]), "root")


async def test_a_user_without_any_sudo_rule_is_auth_failed(client: Client, sshd: SshTarget) -> None:
    # No sudo_rights here: the harness's test user is in no sudoers file at all.
    plain = (await create_server(client, sshd.server_body("plain")))["id"]
    for job in (await refusals(client, plain, {"become": True, "become_password": sshd.user.password})).values():
        assert_refused(job, "root")
