"""Jobs on a new SSH connection never wait for a long job that shares their worker's round: through the API, with a
real worker thread and a real sshd, on both databases."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from quart.typing import TestClientProtocol as Client

from tests.harness.sshd import SshTarget
from tests.harness.wait import wait_until_async
from tests.helpers import ok_data
from tests.jobs_helpers import FINISHED, job, key_server_for, password_server_for, submit, wait_finished, wait_for_job

# The long job: longer than the rest of the test takes. A job that waited for it would be seen waiting.
LONG_S = 30
ECHOES = 6

Seen = tuple[str, str, int | None, str]


@pytest.fixture
def worker_threads() -> int:
    """One thread: the echo jobs can only run in the long job's Ansible run. Queued while that run's Ansible starts
    (~0.6 s on an idle 2-core machine, longer under load), they join its first round, with the long job. A second
    thread would start a run of its own for any that came later, and the test could not see them wait."""
    return 1


async def test_jobs_on_a_new_connection_end_while_a_long_job_of_their_round_runs(
    client: Client, sshd: SshTarget
) -> None:
    """An idle service is given `sleep 30` on server A, then, as soon as a worker took that job, six `echo N` on
    server B, which it has no connection to yet (one of the six opens it, the other five wait for it): all six end,
    with their output, while the sleep still runs. None waits for the sleep, the longest job of their round.
    (The report it reproduces: after `sleep 40` on A, the first echo on B ended at 1.2 s, the other five at 41.7 s,
    with the sleep.)"""
    # Two servers, so two connections: a connection's digest covers the server, its login and its key (app/reach.py);
    # A logs in with a password, B with a key. B's connection is new when its jobs arrive.
    server_a = await password_server_for(client, sshd, name="a")
    server_b = await key_server_for(client, sshd, name="b")

    long_job = await submit(client, server_a, f"sleep {LONG_S}", timeout=LONG_S + 60)
    try:
        # Taken by the worker (starting: its Ansible run starts): the six then join that run's first round.
        await wait_for_job(client, long_job, lambda j: j["status"] != "queued", timeout=30, what="taken by the worker")
        posted = await asyncio.gather(
            *(client.post("/api/v1/jobs", json={"server_id": server_b, "command": f"echo {n}"}) for n in range(ECHOES))
        )
        echoes = [str((await ok_data(response, 201))["id"]) for response in posted]

        async def seen() -> list[Seen]:
            jobs = [await job(client, job_id) for job_id in echoes]
            return sorted((j["command"], j["status"], j["exit_code"], j["stdout"]) for j in jobs)

        ended = await wait_until_async(
            seen,
            LONG_S * 2 / 3,
            f"the {ECHOES} echo jobs on B to end while the sleep on A runs",
            0.1,
            done=lambda jobs: all(status in FINISHED for _, status, _, _ in jobs),
        )
        assert ended == [(f"echo {n}", "completed", 0, f"{n}\n") for n in range(ECHOES)]
        # Read after the six ended: the sleep has not (its first answer may come just after theirs, both being
        # the first over a new connection: it then shows starting a moment longer).
        sleeping: dict[str, Any] = await job(client, long_job)
        assert (sleeping["status"], sleeping["finished_at"]) in (("starting", None), ("running", None))
        sleeping = await wait_for_job(client, long_job, lambda j: j["status"] != "starting", timeout=10, what="running")
        assert (sleeping["status"], sleeping["finished_at"]) == ("running", None)
    finally:
        # Not left to sleep: the test ends long before the sleep would, whatever it found.
        await client.post(f"/api/v1/jobs/{long_job}/cancel")
    assert (await wait_finished(client, long_job, timeout=30))["status"] == "canceled"
