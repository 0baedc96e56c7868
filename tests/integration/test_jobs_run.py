"""Jobs run for real: the API, the queue, workers, ansible-runner and a real sshd, on both databases."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import pytest
from quart.typing import TestClientProtocol as Client

from tests.harness.fixtures import SshdFactory
from tests.harness.sshd import SshTarget
from tests.helpers import error_of, ok_data
from tests.jobs_helpers import (
    job,
    key_server_for,
    password_server_for,
    processes_of,
    seconds_between,
    submit,
    submit_script,
    wait_finished,
    wait_for_job,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def worker_threads() -> int:
    return 2


async def test_exit_codes_streams_and_text_endpoints(client: Client, sshd: SshTarget) -> None:
    server_id = await password_server_for(client, sshd)
    key_server_id = await key_server_for(client, sshd, encrypted=True)
    failing = await submit(client, server_id, "echo hello; echo oops >&2; exit 3")
    succeeding = await submit(client, key_server_id, "true")
    script_fails = await submit_script(client, server_id, "#!/bin/bash\nset -e\necho step1\nfalse\necho never\n")
    in_bash = 'if [ -n "$BASH_VERSION" ]; then echo bash; else echo not-bash; fi'
    script_bash = await submit_script(client, key_server_id, in_bash, shell="/bin/bash")  # noqa: S604
    script_sh = await submit_script(client, key_server_id, in_bash, shell="/bin/sh")  # noqa: S604

    done = await wait_finished(client, failing)
    assert (done["status"], done["exit_code"], done["failure_reason"]) == ("failed", 3, "nonzero_exit")
    assert (done["stdout"], done["stderr"], done["output"]) == ("hello\n", "oops\n", "hello\noops\n")
    assert done["started_at"] and done["finished_at"] and done["finished_at"] >= done["started_at"]
    brief = await ok_data(await client.get(f"/api/v1/jobs/{failing}?include_output=false"))
    assert (brief["output"], brief["stdout"], brief["stderr"]) == (None, None, None)
    assert {k: v for k, v in brief.items() if k not in ("output", "stdout", "stderr")} == {
        k: v for k, v in done.items() if k not in ("output", "stdout", "stderr")
    }
    assert "include_output:" in await error_of(await client.get(f"/api/v1/jobs/{failing}?include_output=maybe"), 400)

    ok = await wait_finished(client, succeeding)
    assert (ok["status"], ok["exit_code"], ok["error"], ok["failure_reason"]) == ("completed", 0, None, None)

    script = await wait_finished(client, script_fails)
    assert (script["status"], script["exit_code"], script["stdout"]) == ("failed", 1, "step1\n")
    assert (await wait_finished(client, script_bash))["stdout"] == "bash\n"
    assert (await wait_finished(client, script_sh))["stdout"] == "not-bash\n"  # the shell field is honoured

    for path, expected in (("logs", "hello\noops\n"), ("stdout", "hello\n"), ("stderr", "oops\n")):
        response = await client.get(f"/api/v1/jobs/{failing}/{path}")
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
        assert await response.get_data(as_text=True) == expected

    # The first connection trusted the host key (on first use), per server.
    server = await ok_data(await client.get(f"/api/v1/servers/{server_id}"))
    assert server["host_key_fingerprint"].startswith("SHA256:")

    info = await ok_data(await client.get("/api/v1/system/info"))
    assert (info["completed_jobs"], info["failed_jobs"], info["success_rate"]) == (3, 2, 60.0)
    enhanced = await ok_data(await client.get("/api/v1/system/enhanced"))
    assert enhanced["jobs_per_hour"] == 5 and enhanced["average_job_duration"] > 0
    assert enhanced["connected_servers"] == 2
    status = enhanced["worker_status"]
    assert (status["active_workers"], status["total_capacity"], status["running_jobs"]) == (2, 64, 0)
    assert [w["threads"] for w in status["workers"]] == [2]


async def test_user_text_reaches_the_target_verbatim_and_is_never_templated(
    client: Client, sshd: SshTarget, tmp_path: Path
) -> None:
    server_id = await password_server_for(client, sshd)
    canary = tmp_path / "templated-on-the-controller"
    lookup = "{{ lookup('pipe', 'touch " + str(canary) + "') }}"
    command_job = await submit(
        client,
        server_id,
        "printf '%s\\n'",
        args=f"\"a  b\" '$HOME' \"$USER\" `echo tick` '{{{{ x }}}}' \"{lookup}\" '{{% raw %}}'",
    )
    script = f"#!/bin/bash\ncat <<'END'\n{lookup}\nEND\necho \"{{{{ ansible_host }}}}\" {{% if 1 %}}x{{% endif %}}\n"
    script_job = await submit_script(client, server_id, script)
    command = await wait_finished(client, command_job)
    assert command["status"] == "completed", command
    user = sshd.user.name
    assert command["stdout"].splitlines() == [
        "a  b",
        "$HOME",
        user,
        "tick",
        "{{ x }}",
        lookup,
        "{% raw %}",
    ]
    from_script = await wait_finished(client, script_job)
    assert from_script["stdout"] == f"{lookup}\n{{{{ ansible_host }}}} {{% if 1 %}}x{{% endif %}}\n"
    assert not canary.exists()


async def test_timeout_keeps_output_and_leaves_nothing_on_the_target(client: Client, sshd: SshTarget) -> None:
    server_id = await password_server_for(client, sshd)
    marker = uuid.uuid4().hex
    job_id = await submit(client, server_id, f"echo before; sleep 300 & sleep 301 # {marker}", timeout=2)
    done = await wait_finished(client, job_id, timeout=30)
    assert (done["status"], done["failure_reason"]) == ("failed", "timeout")
    assert done["stdout"] == "before\n"
    assert "timed out after 2 s" in done["error"]
    assert 2 <= seconds_between(done["started_at"], done["finished_at"]) < 60  # by its timeout, not its end
    assert not [p for p in processes_of(sshd.user.name) if marker in p or "sleep 30" in p]


@pytest.mark.parametrize("settings_overrides", [{"server_concurrency": 1}])
async def test_cancel_running_queued_and_finished_jobs(client: Client, sshd: SshTarget) -> None:
    server_id = await password_server_for(client, sshd)
    marker = uuid.uuid4().hex
    running = await submit(client, server_id, f"echo started; trap '' TERM; sleep 300 # {marker}")
    queued = await submit(client, server_id, "echo never")  # the server takes one job at a time here
    await wait_for_job(client, running, lambda j: j["stdout"] == "started\n")

    canceled_queued = await client.post(f"/api/v1/jobs/{queued}/cancel")
    body = await ok_data(canceled_queued, 200)
    assert body["status"] == "canceled" and body["canceled_at"]

    asked = time.monotonic()
    accepted = await client.post(f"/api/v1/jobs/{running}/cancel")
    body = await ok_data(accepted, 202)
    assert body["status"] == "running" and body["cancel_requested_at"]
    done = await wait_finished(client, running, timeout=30)
    # Stopped (TERM is ignored here, so by the KILL after the 5 s grace), not left to sleep its 300 s.
    assert time.monotonic() - asked < 60
    assert done["status"] == "canceled"
    assert done["stdout"] == "started\n"  # output so far kept
    assert not [p for p in processes_of(sshd.user.name) if marker in p]
    never = await job(client, queued)
    assert (never["status"], never["started_at"], never["stdout"]) == ("canceled", None, "")

    assert "already canceled" in await error_of(await client.post(f"/api/v1/jobs/{running}/cancel"), 409)


async def test_a_cached_connection_never_skips_authentication(client: Client, sshd: SshTarget) -> None:
    good = await password_server_for(client, sshd, name="good")
    bad = await password_server_for(client, sshd, name="bad", password="not-the-password")
    first = await wait_finished(client, await submit(client, good, "echo ok"))
    assert first["status"] == "completed"
    marker = f"ran-{uuid.uuid4().hex}"
    refused = await wait_finished(client, await submit(client, bad, f"touch ~/{marker}"))
    assert (refused["status"], refused["failure_reason"]) == ("failed", "auth_failed")
    assert not (sshd.user.home / marker).exists()
    # ...and the good credential still works, on its own cached connection.
    assert (await wait_finished(client, await submit(client, good, "echo again")))["stdout"] == "again\n"


async def test_twenty_jobs_on_two_servers_all_run_exactly_once(
    client: Client, sshd: SshTarget, sshd_factory: SshdFactory
) -> None:
    second = sshd_factory().target
    servers = [
        await password_server_for(client, sshd, name="one"),
        await password_server_for(client, second, name="two"),
    ]
    ledger = f"ledger-{uuid.uuid4().hex}"
    submissions = [
        client.post("/api/v1/jobs", json={"server_id": servers[i % 2], "command": f"echo {i} >> ~/{ledger}; echo {i}"})
        for i in range(20)
    ]
    ids = [(await ok_data(response, 201))["id"] for response in await asyncio.gather(*submissions)]
    results = [await wait_finished(client, job_id, timeout=120) for job_id in ids]
    assert [r["status"] for r in results] == ["completed"] * 20
    assert sorted(int(r["stdout"]) for r in results) == list(range(20))
    ran = sorted(int(line) for line in (sshd.user.home / ledger).read_text().split())
    assert ran == list(range(20))  # both sshd serve the same user: one ledger, each job exactly once


async def test_host_key_change_fails_the_job_until_retrusted(client: Client, sshd_factory: SshdFactory) -> None:
    server = sshd_factory()
    server_id = await password_server_for(client, server.target)
    assert (await wait_finished(client, await submit(client, server_id, "true")))["status"] == "completed"
    trusted = (await ok_data(await client.get(f"/api/v1/servers/{server_id}")))["host_key_fingerprint"]
    assert trusted is not None  # stored before the job was reported finished
    server.restart_with_new_host_key()
    changed = await wait_finished(client, await submit(client, server_id, "echo should-not-run"))
    assert (changed["status"], changed["failure_reason"]) == ("failed", "host_key_mismatch")
    assert changed["stdout"] == ""
    still = (await ok_data(await client.get(f"/api/v1/servers/{server_id}")))["host_key_fingerprint"]
    assert still == trusted

    forgotten = await ok_data(await client.delete(f"/api/v1/servers/{server_id}/host-key"))
    assert forgotten["host_key_fingerprint"] is None
    again = await wait_finished(client, await submit(client, server_id, "echo trusted-again"))
    assert (again["status"], again["stdout"]) == ("completed", "trusted-again\n")
    renewed = (await ok_data(await client.get(f"/api/v1/servers/{server_id}")))["host_key_fingerprint"]
    assert renewed not in (None, trusted)

    # A re-trust while an SSH master to the server is still open takes effect at once as well.
    await ok_data(await client.delete(f"/api/v1/servers/{server_id}/host-key"))
    assert (await wait_finished(client, await submit(client, server_id, "true")))["status"] == "completed"
    relearned = (await ok_data(await client.get(f"/api/v1/servers/{server_id}")))["host_key_fingerprint"]
    assert relearned == renewed
