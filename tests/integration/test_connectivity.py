"""POST /servers/:id/test and /servers/check-status, through Ansible against a real sshd."""

from __future__ import annotations

import pytest
from quart.typing import TestClientProtocol as Client

from tests.harness.fixtures import SshdFactory
from tests.harness.net import free_port
from tests.harness.sshd import SshTarget
from tests.helpers import create_server, ok_data, password_server
from tests.jobs_helpers import key_server_for, password_server_for, submit, wait_finished

pytestmark = pytest.mark.slow

# What a job, a test and check-status all say of a server whose host key changed since it was trusted.
MISMATCH = "the server's SSH host key changed since it was trusted; re-trust it if the change is expected"


@pytest.fixture
def worker_threads() -> int:
    return 1


async def test_connectivity_checks(client: Client, sshd: SshTarget) -> None:
    good = await password_server_for(client, sshd, name="good")
    wrong = await password_server_for(client, sshd, name="wrong-password", password="nope")
    nothing_there = (await create_server(client, password_server("down", port=free_port())))["id"]
    inactive = await password_server_for(client, sshd, name="inactive", is_active=False)

    tested = await ok_data(await client.post(f"/api/v1/servers/{good}/test"))
    assert tested["server_id"] == good
    assert (tested["status"], tested["test_command"], tested["test_output"]) == ("connected", "echo 'test'", "test")
    assert isinstance(tested["response_time_ms"], int) and tested["response_time_ms"] >= 0
    server = await ok_data(await client.get(f"/api/v1/servers/{good}"))
    assert server["host_key_fingerprint"].startswith("SHA256:")  # trusted on first use by the test
    # The server remembers what the last check showed.
    assert (server["last_status"], server["last_response_time_ms"]) == ("connected", tested["response_time_ms"])
    assert server["last_checked_at"] and server["last_message"] == tested["message"]

    refused = await ok_data(await client.post(f"/api/v1/servers/{wrong}/test"))
    assert (refused["status"], refused["failure_reason"], refused["response_time_ms"]) == (
        "disconnected",
        "auth_failed",
        None,
    )
    down = await ok_data(await client.post(f"/api/v1/servers/{nothing_there}/test"))
    assert (down["status"], down["failure_reason"]) == ("disconnected", "unreachable")
    assert "refused" in down["message"].lower()

    never_checked = await ok_data(await client.get(f"/api/v1/servers/{inactive}"))
    assert (never_checked["last_status"], never_checked["last_checked_at"]) == (None, None)
    refused_record = await ok_data(await client.get(f"/api/v1/servers/{wrong}"))
    assert (refused_record["last_status"], refused_record["last_message"]) == ("disconnected", refused["message"])

    checked = await ok_data(await client.post("/api/v1/servers/check-status?active_only=true"))
    statuses = {item["server_id"]: (item["status"], item["failure_reason"]) for item in checked["servers"]}
    assert statuses == {
        good: ("connected", None),
        wrong: ("disconnected", "auth_failed"),
        nothing_there: ("disconnected", "unreachable"),
    }
    summary = checked["summary"]
    assert (summary["total_checked"], summary["connected"], summary["disconnected"]) == (3, 1, 2)
    assert summary["check_duration_ms"] > 0

    everything = await ok_data(await client.post("/api/v1/servers/check-status"))
    assert {item["server_id"] for item in everything["servers"]} == {good, wrong, nothing_there, inactive}

    enhanced = await ok_data(await client.get("/api/v1/system/enhanced"))
    assert (enhanced["connected_servers"], enhanced["disconnected_servers"]) == (2, 2)


async def test_a_changed_host_key_is_host_key_mismatch_in_checks_as_in_jobs(
    client: Client, sshd_factory: SshdFactory
) -> None:
    server = sshd_factory()
    password_login = await password_server_for(client, server.target, name="password-login")
    key_login = await key_server_for(client, server.target, name="key-login")
    for server_id in (password_login, key_login):
        trusted = await ok_data(await client.post(f"/api/v1/servers/{server_id}/test"))
        assert trusted["status"] == "connected"  # and its host key trusted on first use
    server.restart_with_new_host_key()

    job = await wait_finished(client, await submit(client, password_login, "true"))
    assert (job["failure_reason"], job["error"]) == ("host_key_mismatch", MISMATCH)
    for server_id in (password_login, key_login):
        tested = await ok_data(await client.post(f"/api/v1/servers/{server_id}/test"))
        assert (tested["status"], tested["failure_reason"], tested["message"]) == (
            "disconnected",
            "host_key_mismatch",
            MISMATCH,
        ), server_id
        recorded = await ok_data(await client.get(f"/api/v1/servers/{server_id}"))
        assert (recorded["last_status"], recorded["last_message"]) == ("disconnected", MISMATCH)

    checked = await ok_data(await client.post("/api/v1/servers/check-status"))
    shown = {
        item["server_id"]: (item["status"], item["failure_reason"], item["message"]) for item in checked["servers"]
    }
    assert shown == {
        server_id: ("disconnected", "host_key_mismatch", MISMATCH) for server_id in (password_login, key_login)
    }
