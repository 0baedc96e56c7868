"""POST /servers/:id/test and /servers/check-status, through Ansible against a real sshd."""

from __future__ import annotations

import pytest
from quart.typing import TestClientProtocol as Client

from tests.harness.net import free_port
from tests.harness.sshd import SshTarget
from tests.helpers import create_server, ok_data, password_server
from tests.jobs_helpers import password_server_for

pytestmark = pytest.mark.slow


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
    statuses = {item["server_id"]: item["status"] for item in checked["servers"]}
    assert statuses == {good: "connected", wrong: "disconnected", nothing_there: "disconnected"}
    summary = checked["summary"]
    assert (summary["total_checked"], summary["connected"], summary["disconnected"]) == (3, 1, 2)
    assert summary["check_duration_ms"] > 0

    everything = await ok_data(await client.post("/api/v1/servers/check-status"))
    assert {item["server_id"] for item in everything["servers"]} == {good, wrong, nothing_there, inactive}

    enhanced = await ok_data(await client.get("/api/v1/system/enhanced"))
    assert (enhanced["connected_servers"], enhanced["disconnected_servers"]) == (2, 2)
