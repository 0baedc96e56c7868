"""Talking to a real service process about servers and jobs, for the end-to-end tests (httpx, synchronous)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, Final

import httpx

from tests.harness.sshd import SshTarget
from tests.harness.wait import wait_until

FINISHED: Final = ("completed", "failed", "canceled")


def server(http: httpx.Client, target: SshTarget, prefix: str = "e2e") -> str:
    response = http.post("/api/v1/servers", json=target.server_body(f"{prefix}-{uuid.uuid4().hex[:8]}"))
    assert response.status_code == 201, response.text
    return str(response.json()["data"]["id"])


def submit(http: httpx.Client, server_id: str, command: str) -> str:
    response = http.post("/api/v1/jobs", json={"server_id": server_id, "command": command})
    assert response.status_code == 201, response.text
    return str(response.json()["data"]["id"])


def job(http: httpx.Client, job_id: str) -> dict[str, Any]:
    response = http.get(f"/api/v1/jobs/{job_id}")
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def wait_for(
    http: httpx.Client, job_id: str, condition: Callable[[dict[str, Any]], object], timeout: float = 60
) -> dict[str, Any]:
    return wait_until(lambda: job(http, job_id), timeout, f"job {job_id}", 0.1, done=condition)


def finished(state: dict[str, Any]) -> bool:
    return state["status"] in FINISHED
