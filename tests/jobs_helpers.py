"""Helpers for tests that run real jobs: servers pointing at the test sshd, and waiting for jobs to end."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from datetime import datetime
from typing import Any

from quart.typing import TestClientProtocol as Client

from tests.harness.sshd import SshTarget
from tests.harness.wait import wait_until_async
from tests.helpers import create_server, ok_data

FINISHED = ("completed", "failed", "canceled")


async def password_server_for(client: Client, target: SshTarget, name: str = "target", **extra: Any) -> str:
    body = {
        "name": name,
        "hostname": target.host,
        "port": target.port,
        "user": target.user.name,
        "auth_type": "password",
        "password": target.user.password,
        **extra,
    }
    return str((await create_server(client, body))["id"])


async def key_server_for(client: Client, target: SshTarget, name: str = "key-target", encrypted: bool = False) -> str:
    body: dict[str, Any] = {
        "name": name,
        "hostname": target.host,
        "port": target.port,
        "user": target.user.name,
        "auth_type": "key",
        "private_key": target.user.encrypted_private_key if encrypted else target.user.private_key,
    }
    if encrypted:
        body["passphrase"] = target.user.passphrase
    return str((await create_server(client, body))["id"])


async def submit(client: Client, server_id: str, command: str, **extra: Any) -> str:
    body = {"server_id": server_id, "command": command, **extra}
    data = await ok_data(await client.post("/api/v1/jobs", json=body), 201)
    return str(data["id"])


async def submit_script(client: Client, server_id: str, script: str, **extra: Any) -> str:
    body = {"server_id": server_id, "script": script, **extra}
    data = await ok_data(await client.post("/api/v1/jobs/script", json=body), 201)
    return str(data["id"])


async def job(client: Client, job_id: str) -> dict[str, Any]:
    data: dict[str, Any] = await ok_data(await client.get(f"/api/v1/jobs/{job_id}"))
    return data


async def wait_for_job(
    client: Client,
    job_id: str,
    done: Callable[[dict[str, Any]], object],
    timeout: float = 60.0,
    what: str = "the awaited state",
) -> dict[str, Any]:
    """Poll the job as a client would until ``done(job)``; fail with the job's state at the deadline."""
    return await wait_until_async(lambda: job(client, job_id), timeout, f"job {job_id} to reach {what}", 0.1, done=done)


async def wait_finished(client: Client, job_id: str, timeout: float = 60.0) -> dict[str, Any]:
    return await wait_for_job(client, job_id, lambda j: j["status"] in FINISHED, timeout, "an end")


def seconds_between(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def processes_of(user: str) -> list[str]:
    """Live (non-zombie) processes of the target user, as `ps` shows them on the target."""
    result = subprocess.run(
        ["ps", "-u", user, "-o", "stat=,args="], capture_output=True, text=True, timeout=10, check=False
    )
    return [line.strip() for line in result.stdout.splitlines() if line.strip() and not line.strip().startswith("Z")]
