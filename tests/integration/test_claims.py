"""How workers take queued jobs: a worker with another run about to take new work leaves it fewer than `fill`
jobs (one Ansible process holds them), whether the per-server limits hold the others back or they are all there
is; a worker with no such run takes what it can; a full batch is taken at once; and the jobs a stopped run never
started go back to the queue."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from app.api.context import RUNTIME_KEY
from app.clock import rfc3339, utcnow
from app.jobqueue import claim as claim_module
from app.jobqueue import transitions
from app.jobqueue.claim import claim_jobs
from app.jobqueue.registry import register_worker
from app.jobqueue.transitions import requeue_jobs
from app.runtime import Runtime
from tests.helpers import create_server, ok_data, password_server

DEAD_AFTER = timedelta(seconds=15)
ALIVE = timedelta(days=1)


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
    assert [(s["status"], s["started_at"] is None) for s in states] == [("starting", True), ("queued", True)]
    claimed = runtime.database.call(claim_jobs, runtime.events, other, 8, 8, DEAD_AFTER)
    assert [(c.job.id, c.reattach) for c in claimed] == [(jobs[1], False)]


class MovedClock:
    """The queue's clock, moved by hand: what a reattach delay and the grace period mean, without waiting."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now


async def test_a_lost_connection_hands_the_job_back_until_the_grace_period_ends(
    app: Quart, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Claimed jobs whose worker is gone: a running one is re-attached, a starting one started again (it may not
    have run). A job whose target stopped answering is handed back, claimed again only when its next try is due,
    shows when contact was lost until the target answers, and ends failed / interrupted once the grace period
    has passed without contact."""
    clock = MovedClock()
    monkeypatch.setattr(claim_module, "utcnow", clock)
    monkeypatch.setattr(transitions, "utcnow", clock)
    runtime: Runtime = app.extensions[RUNTIME_KEY]
    call, events = runtime.database.call, runtime.events
    server = await create_server(client, password_server())
    started, starting = await queue(client, server["id"], 2)
    worker = call(register_worker, 1, 8)
    call(claim_jobs, events, worker, 8, 8, DEAD_AFTER)
    assert call(transitions.mark_started, events, started, worker)
    states = {s["id"]: s for s in (await ok_data(await client.get("/api/v1/jobs")))["jobs"]}
    assert (states[started]["status"], states[starting]["status"]) == ("running", "starting")
    assert states[started]["started_at"] is not None and states[starting]["started_at"] is None

    # The worker dies: the running job is re-attached, the starting one started as if new (starting is idempotent
    # on the target).
    successor = call(register_worker, 1, 8)
    clock.now += DEAD_AFTER + timedelta(seconds=1)
    reclaimed = call(claim_jobs, events, successor, 8, 8, DEAD_AFTER)
    assert {c.job.id: c.reattach for c in reclaimed} == {started: True, starting: False}

    # Contact lost: handed back, not claimed before its next try is due. (The successor stays alive however far
    # the clock moves: it has no heartbeat here.)
    lost_at = clock.now
    assert call(transitions.lose_contact, events, started, successor, 60, "Shared connection closed.") == "reconnecting"
    shown = await ok_data(await client.get(f"/api/v1/jobs/{started}"))
    assert (shown["status"], shown["contact_lost_at"]) == ("running", rfc3339(lost_at))
    assert call(claim_jobs, events, successor, 8, 8, ALIVE) == []
    clock.now += timedelta(seconds=1)
    assert [c.job.id for c in call(claim_jobs, events, successor, 8, 8, ALIVE)] == [started]

    # The target answers: in contact again.
    assert call(transitions.mark_started, events, started, successor)
    assert (await ok_data(await client.get(f"/api/v1/jobs/{started}")))["contact_lost_at"] is None

    # Lost again, and never found within the grace period: it ends, saying the command may still run.
    clock.now += timedelta(seconds=5)
    assert call(transitions.lose_contact, events, started, successor, 60, "Connection refused") == "reconnecting"
    clock.now += timedelta(seconds=30)
    [_again] = call(claim_jobs, events, successor, 8, 8, ALIVE)
    assert call(transitions.lose_contact, events, started, successor, 60, "Connection refused") == "reconnecting"
    clock.now += timedelta(seconds=31)
    [_again] = call(claim_jobs, events, successor, 8, 8, ALIVE)
    ended = call(transitions.lose_contact, events, started, successor, 60, "Connection refused")
    assert isinstance(ended, transitions.Ended) and ended.status == "failed" and ended.started_at is not None
    shown = await ok_data(await client.get(f"/api/v1/jobs/{started}"))
    assert (shown["status"], shown["failure_reason"], shown["exit_code"]) == ("failed", "interrupted", None)
    assert "could not reconnect for 61 s" in shown["error"] and shown["error"].endswith("may still be running there")
    assert shown["contact_lost_at"] is not None  # when contact was lost, for the record
    assert shown["started_at"] == rfc3339(ended.started_at)  # the start the metrics timed is the one stored
