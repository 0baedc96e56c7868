"""Servers that share a credential reach their target with it; a rotated credential never rides on a cached
SSH connection opened with the old one."""

from __future__ import annotations

import pytest
from quart.typing import TestClientProtocol as Client

from tests.harness.sshd import SshTarget
from tests.helpers import create_server, ok_data
from tests.jobs_helpers import wait_finished

pytestmark = pytest.mark.slow


@pytest.fixture
def worker_threads() -> int:
    return 2


async def run_on(client: Client, server_ids: list[str], command: str) -> list[dict[str, object]]:
    batch = await ok_data(await client.post("/api/v1/jobs", json={"server_ids": server_ids, "command": command}), 201)
    return [await wait_finished(client, job["id"]) for job in batch["jobs"]]


@pytest.mark.parametrize("db_kind", ["sqlite"])
async def test_a_shared_credential_and_its_rotation(client: Client, sshd: SshTarget) -> None:
    user = sshd.user
    credential = await ok_data(
        await client.post("/api/v1/credentials", json={"name": "t", "password": user.password}), 201
    )
    ids = []
    for name in ("one", "two"):
        body = {"name": name, "hostname": sshd.host, "port": sshd.port, "user": user.name, "auth_type": "password"}
        ids.append((await create_server(client, {**body, "credential_id": credential["id"]}))["id"])

    assert [(j["status"], j["stdout"]) for j in await run_on(client, ids, "echo ok")] == [("completed", "ok\n")] * 2
    # Rotated to a wrong password: the masters opened a moment ago with the right one must not let it in.
    await ok_data(await client.patch(f"/api/v1/credentials/{credential['id']}", json={"password": "wrong-one"}))
    refused = await run_on(client, ids[:1], "echo ok")
    assert (refused[0]["status"], refused[0]["failure_reason"]) == ("failed", "auth_failed")
    await ok_data(await client.patch(f"/api/v1/credentials/{credential['id']}", json={"password": user.password}))
    assert [j["status"] for j in await run_on(client, ids, "true")] == ["completed"] * 2
