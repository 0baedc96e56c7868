"""Job output storage under the cap: head and tail kept, a marker between them, on both databases."""

from __future__ import annotations

from datetime import timedelta

import peewee as pw
import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from app.api.context import RUNTIME_KEY
from app.jobqueue.claim import claim_jobs
from app.jobqueue.output import ESCAPE, NotOwner, append_output
from app.jobqueue.reads import chunks_after, get_job, job_output
from app.jobqueue.registry import register_worker
from app.runtime import Runtime
from tests.helpers import create_server, ok_data, password_server

CAP = 4096


async def running_job(client: Client, runtime: Runtime) -> tuple[str, str]:
    server = await create_server(client, password_server())
    job = await ok_data(await client.post("/api/v1/jobs", json={"server_id": server["id"], "command": "x"}), 201)
    worker_id = runtime.database.call(register_worker, 1, 1)
    claimed = runtime.database.call(claim_jobs, runtime.events, worker_id, 1, 8, timedelta(seconds=15))
    assert [c.job.id for c in claimed] == [job["id"]]
    return job["id"], worker_id


async def test_output_beyond_the_cap_keeps_head_and_tail(app: Quart, client: Client) -> None:
    runtime: Runtime = app.extensions[RUNTIME_KEY]
    job_id, worker_id = await running_job(client, runtime)
    offset = 0

    def append(stream: str, text: str) -> None:
        nonlocal offset
        offset += len(text.encode())
        runtime.database.call(append_output, runtime.events, job_id, worker_id, stream, text, offset, CAP)

    append("stdout", "H" * 1500)
    append("stderr", "é" * 400)  # 800 bytes: crosses the head's 2048 bytes in the middle of nothing but é
    for number in range(40):
        append("stdout", f"{number:04d}" + "t" * 95 + "\n")  # 100 bytes each
    append("stderr", "last words\n")

    job = runtime.database.call(get_job, job_id)
    output = runtime.database.call(job_output, job)
    assert job.stored_bytes <= CAP
    head, marker, tail = output.output.partition("\n[newremora: ")
    assert head.startswith("H" * 1500) and head.endswith("é")  # no character was cut in half
    assert len(head.encode()) == 2048 - (2048 - 1500) % 2  # the head is full, up to a whole é
    assert tail.endswith("0039" + "t" * 95 + "\nlast words\n")
    assert job.omitted_bytes == 1500 + 800 + 40 * 100 + 11 - job.stored_bytes
    assert output.stdout.count("[newremora: ") == 1 and f"{job.stdout_omitted} bytes" in output.stdout
    assert job.stderr_omitted > 0 and output.stderr.endswith("last words\n")
    assert output.output.replace(marker, "").count("\n[newremora:") == 0


@pytest.mark.parametrize("db_kind", ["sqlite"])
async def test_only_the_owner_of_a_running_job_stores_its_output(app: Quart, client: Client) -> None:
    runtime: Runtime = app.extensions[RUNTIME_KEY]
    job_id, _ = await running_job(client, runtime)
    stranger = runtime.database.call(register_worker, 1, 1)
    with pytest.raises(NotOwner):
        runtime.database.call(append_output, runtime.events, job_id, stranger, "stdout", "x", 1, CAP)
    assert runtime.database.call(get_job, job_id).stored_bytes == 0


async def test_nul_and_the_escape_character_round_trip_on_both_databases(
    app: Quart, client: Client, raw_db: pw.Database
) -> None:
    """PostgreSQL text cannot hold U+0000: stored escaped, read back as printed, counted as the bytes printed."""
    runtime: Runtime = app.extensions[RUNTIME_KEY]
    job_id, worker_id = await running_job(client, runtime)
    pieces = [("stdout", "a\x00b\n"), ("stderr", "\x00"), ("stdout", f"{ESCAPE}0 {ESCAPE}e {ESCAPE}\x00 é\n")]
    offset = 0
    for stream, text in pieces:
        offset += len(text.encode())
        runtime.database.call(append_output, runtime.events, job_id, worker_id, stream, text, offset, CAP)

    job = runtime.database.call(get_job, job_id)
    output = runtime.database.call(job_output, job)
    assert output.output == "".join(text for _, text in pieces)
    assert output.stdout == pieces[0][1] + pieces[2][1] and output.stderr == "\x00"
    assert job.stored_bytes == offset  # the cap counts what was printed, not the stored form
    assert [c.data for c in runtime.database.call(chunks_after, job_id, 0, 10)] == [text for _, text in pieces]
    stored = [row[0] for row in raw_db.execute_sql("SELECT data FROM job_chunk ORDER BY seq").fetchall()]
    assert not any("\x00" in data for data in stored)
    detail = await ok_data(await client.get(f"/api/v1/jobs/{job_id}"))
    assert (detail["stdout"], detail["stderr"]) == (output.stdout, "\x00")
    response = await client.get(f"/api/v1/jobs/{job_id}/logs")
    assert await response.get_data() == output.output.encode()
