"""How workers take queued jobs: a worker with another run about to take new work leaves it fewer than `fill`
jobs (one Ansible process holds them), whether the per-server limits hold the others back or they are all there
is; a worker with no such run takes what it can; a full batch is taken at once; and the jobs a stopped run never
started go back to the queue."""

from __future__ import annotations

from datetime import timedelta

from quart import Quart
from quart.typing import TestClientProtocol as Client

from app.api.context import RUNTIME_KEY
from app.jobqueue.claim import claim_jobs
from app.jobqueue.registry import register_worker
from app.jobqueue.transitions import requeue_jobs
from app.runtime import Runtime
from tests.helpers import create_server, ok_data, password_server

DEAD_AFTER = timedelta(seconds=15)


async def queue(client: Client, server_id: str, count: int) -> list[str]:
    body = {"server_id": server_id, "command": "true"}
    return [(await ok_data(await client.post("/api/v1/jobs", json=body), 201))["id"] for _ in range(count)]


async def test_a_run_about_to_take_work_keeps_a_few_jobs_for_itself(app: Quart, client: Client) -> None:
    """A worker with another run about to take new work (fill > 1) leaves it fewer than `fill` jobs, whether the
    per-server limits hold the others back or they are all there is; with no other run it takes what it can."""
    runtime: Runtime = app.extensions[RUNTIME_KEY]
    server = await create_server(client, password_server())
    other = await create_server(client, password_server("web-02"))
    jobs = await queue(client, server["id"], 3)
    worker = runtime.database.call(register_worker, 1, 8)

    def claim(fill: int, per_server: int = 2) -> list[str]:
        return [
            c.job.id for c in runtime.database.call(claim_jobs, runtime.events, worker, 8, per_server, DEAD_AFTER, fill)
        ]

    # Two of the three may run (2 per server): fewer than the 3 wanted, all held back.
    assert claim(3) == []
    # A worker with no other run under way takes what it can.
    assert claim(1) == jobs[:2]
    # Two jobs that are all there is (the third waits for a place on its server): left to the other run...
    lone = await queue(client, other["id"], 2)
    assert claim(4) == []
    # ...but taken by a worker that has none.
    assert claim(1) == lone


async def test_a_full_batch_is_taken_at_once(app: Quart, client: Client) -> None:
    runtime: Runtime = app.extensions[RUNTIME_KEY]
    server = await create_server(client, password_server())
    jobs = await queue(client, server["id"], 4)
    worker = runtime.database.call(register_worker, 1, 8)
    claimed = runtime.database.call(claim_jobs, runtime.events, worker, 8, 8, DEAD_AFTER, 4)
    assert [c.job.id for c in claimed] == jobs


async def test_jobs_a_stopped_run_never_started_are_queued_again(app: Quart, client: Client) -> None:
    runtime: Runtime = app.extensions[RUNTIME_KEY]
    server = await create_server(client, password_server())
    jobs = await queue(client, server["id"], 2)
    worker = runtime.database.call(register_worker, 1, 8)
    other = runtime.database.call(register_worker, 1, 8)
    assert [c.job.id for c in runtime.database.call(claim_jobs, runtime.events, worker, 8, 8, DEAD_AFTER)] == jobs

    # Only this worker's own running jobs go back, as queued, and are claimed afresh.
    assert runtime.database.call(requeue_jobs, runtime.events, other, jobs) == 0
    assert runtime.database.call(requeue_jobs, runtime.events, worker, jobs[1:]) == 1
    states = [await ok_data(await client.get(f"/api/v1/jobs/{job_id}")) for job_id in jobs]
    assert [(s["status"], s["started_at"] is None) for s in states] == [("running", False), ("queued", True)]
    claimed = runtime.database.call(claim_jobs, runtime.events, other, 8, 8, DEAD_AFTER)
    assert [(c.job.id, c.reattach) for c in claimed] == [(jobs[1], False)]
