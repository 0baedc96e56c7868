"""How workers take queued jobs: a new Ansible run waits for a fuller batch only while the per-server limits
hold a backlog back, and never when the jobs it could take are all there is."""

from __future__ import annotations

from datetime import timedelta

from quart import Quart
from quart.typing import TestClientProtocol as Client

from app.api.context import RUNTIME_KEY
from app.jobqueue.claim import claim_jobs
from app.jobqueue.lifecycle import register_worker
from app.runtime import Runtime
from tests.helpers import create_server, ok_data, password_server

DEAD_AFTER = timedelta(seconds=15)


async def queue(client: Client, server_id: str, count: int) -> list[str]:
    body = {"server_id": server_id, "command": "true"}
    return [(await ok_data(await client.post("/api/v1/jobs", json=body), 201))["id"] for _ in range(count)]


async def test_a_backlog_held_back_by_server_limits_waits_for_a_fuller_batch(app: Quart, client: Client) -> None:
    runtime: Runtime = app.extensions[RUNTIME_KEY]
    server = await create_server(client, password_server())
    jobs = await queue(client, server["id"], 3)
    worker = runtime.database.call(register_worker, 1, 8)

    def claim(fill: int) -> list[str]:
        return [c.job.id for c in runtime.database.call(claim_jobs, worker, 8, 2, DEAD_AFTER, fill)]

    # Two of the three may run (2 per server): fewer than the 3 wanted, and a third is held back.
    assert claim(3) == []
    # A worker with no other run under way takes what it can.
    assert claim(1) == jobs[:2]


async def test_jobs_that_are_all_there_is_never_wait_for_company(app: Quart, client: Client) -> None:
    runtime: Runtime = app.extensions[RUNTIME_KEY]
    server = await create_server(client, password_server())
    jobs = await queue(client, server["id"], 2)
    worker = runtime.database.call(register_worker, 1, 8)
    claimed = runtime.database.call(claim_jobs, worker, 8, 8, DEAD_AFTER, 4)
    assert [c.job.id for c in claimed] == jobs
