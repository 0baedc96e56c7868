"""The lean job listing (app/jobqueue/listing.py) gives exactly what ``JobOut`` gives, for every kind of job.

The listing builds its JSON from raw rows, without the pydantic model; this is what keeps the two from drifting:
a field missing, renamed, reordered or formatted differently (a time, a boolean, extra_vars) fails here.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from quart import Quart
from quart.typing import TestClientProtocol as Client

from app.api.context import RUNTIME_KEY
from app.api.jobs import job_out
from app.jobqueue import reads
from app.jobqueue.listing import JobFilter, list_jobs_json
from app.jobqueue.totals import ListingTotals
from app.models import Job
from app.runtime import Runtime
from app.schemas.common import Envelope, Pagination
from app.schemas.jobs import JobList, JobOut
from tests.helpers import create_server, json_of, password_server

BASE = datetime(2026, 3, 4, 5, 6, 7, 891_234, tzinfo=UTC)

# One job per case: kinds, states, times with and without a fraction of a second, extra_vars, become, output cut.
CASES: list[dict[str, Any]] = [
    {"kind": "command", "command": "uptime", "args": None, "status": "queued"},
    {"kind": "command", "command": "echo", "args": "'ÉTÉ' \"quoted\" \\ back", "status": "running", "started": 1},
    {
        "kind": "command",
        "command": "false",
        "status": "failed",
        "started": 0,
        "finished": 999,
        "exit_code": 1,
        "error": "exit code 1",
        "failure_reason": "nonzero_exit",
    },
    {"kind": "command", "command": "true", "status": "completed", "started": 5, "finished": 6, "exit_code": 0},
    {"kind": "script", "script": "#!/bin/sh\necho 100%_done\n", "shell": "/bin/sh", "status": "completed"},
    {
        "kind": "script",
        "script": "yes",
        "shell": "/bin/bash",
        "status": "canceled",
        "cancel_requested": 2,
        "canceled": 3,
        "stdout_omitted": 4096,
        "submitted_by": "key:0b5f3c2e-1d4a-4f7e-9a53-2c8f1e6d7b90",
        "canceled_by": "local:local",
    },
    {"kind": "command", "command": "cat big", "status": "completed", "stderr_omitted": 1, "stored_bytes": 10 << 20},
    {
        "kind": "playbook",
        "playbook": "site.yml",
        "extra_vars": {"version": "1.2", "nested": {"list": [1, 2.5, None, True], "ü": "ñ"}},
        "status": "completed",
    },
    {"kind": "playbook", "playbook": "empty.yml", "extra_vars": {}, "status": "queued"},
    {"kind": "playbook", "playbook": "none.yml", "status": "queued"},
    {"kind": "command", "command": "id", "status": "queued", "become": True, "become_user": "postgres"},
    {"kind": "command", "command": "id", "status": "queued", "become": False},
    {"kind": "command", "command": "id", "status": "queued", "batch": True, "priority": 10, "timeout": 86400},
    # Launched from a template: its id, version and values (a secret redacted, a newline, a boolean, a number).
    {
        "kind": "command",
        "command": 'printf %s "$who"',
        "status": "queued",
        "template_id": "5f0c9a52-7a8e-4d7b-8c61-3f2b9d0e4a17",
        "template_version": 7,
        "parameters": {"who": "a\n$(b) {{ c }}", "n": 3, "loud": True, "token": "********"},
    },
    # Stored by hand (or by an older release) rather than by the models: times in other ISO forms, and extra_vars
    # with NaN and Infinity (Python writes them, SQLite's json() refuses them; the API now refuses them too).
    {
        "kind": "playbook",
        "playbook": "odd.yml",
        "status": "completed",
        "stored_as": {
            "started_at": "2026-03-04 05:06:07.5",
            "finished_at": "2026-03-04T05:16:07.123456+00:00",
            "extra_vars": '{"limit": NaN, "n": [Infinity, -Infinity, 1], "s": "\\u00e9\\n\\"q\\""}',
        },
    },
]


def _at(offset_ms: int | None, whole_second: bool = False) -> datetime | None:
    if offset_ms is None:
        return None
    moment = BASE + timedelta(milliseconds=offset_ms)
    return moment.replace(microsecond=0) if whole_second else moment


def _store(runtime: Runtime, server_ids: list[str]) -> list[str]:
    def store() -> list[str]:
        ids = []
        batch_id = str(uuid.uuid4())
        for number, case in enumerate(CASES):
            extra_vars = case.get("extra_vars")
            parameters = case.get("parameters")
            job = Job.create(
                server=server_ids[number % len(server_ids)],
                kind=case["kind"],
                command=case.get("command"),
                args=case.get("args"),
                script=case.get("script"),
                shell=case.get("shell"),
                playbook=case.get("playbook"),
                extra_vars=json.dumps(extra_vars) if extra_vars is not None else None,
                timeout=case.get("timeout", 300),
                priority=case.get("priority", 5),
                status=case["status"],
                exit_code=case.get("exit_code"),
                error=case.get("error"),
                failure_reason=case.get("failure_reason"),
                batch_id=batch_id if case.get("batch") else None,
                become=case.get("become"),
                become_user=case.get("become_user"),
                submitted_by=case.get("submitted_by"),
                canceled_by=case.get("canceled_by"),
                template_id=case.get("template_id"),
                template_version=case.get("template_version"),
                parameters=json.dumps(parameters) if parameters is not None else None,
                # Every other job created on a whole second: stored without a fraction.
                created_at=_at(number * 1000, whole_second=number % 2 == 0),
                started_at=_at(case.get("started")),
                finished_at=_at(case.get("finished"), whole_second=True),
                cancel_requested_at=_at(case.get("cancel_requested")),
                canceled_at=_at(case.get("canceled")),
                stored_bytes=case.get("stored_bytes", 123),
                stdout_omitted=case.get("stdout_omitted", 0),
                stderr_omitted=case.get("stderr_omitted", 0),
            )
            if stored_as := case.get("stored_as"):
                assignments = ", ".join(f"{column} = %s" for column in stored_as)
                database = Job._meta.database
                sql = f"UPDATE job SET {assignments} WHERE id = %s".replace("%s", database.param)
                database.execute_sql(sql, [*stored_as.values(), job.id])
            ids.append(job.id)
        return ids

    return runtime.database.call(store)


def _through_the_model(runtime: Runtime, job_id: str) -> dict[str, Any]:
    dumped: dict[str, Any] = job_out(runtime.database.call(reads.get_job, job_id)).model_dump(mode="json")
    return dumped


async def test_listed_jobs_are_what_jobout_gives_key_for_key(app: Quart, client: Client) -> None:
    runtime: Runtime = app.extensions[RUNTIME_KEY]
    servers = [(await create_server(client, password_server(f"web-{n}")))["id"] for n in range(3)]
    ids = _store(runtime, servers)

    for sort_by in ("created_at", "started_at", "finished_at"):
        query = JobFilter(limit=100, sort_by=sort_by, sort_order="asc")
        text, total = runtime.database.call(list_jobs_json, query, ListingTotals())
        lean = json.loads(text)
        assert total == len(CASES) and {job["id"] for job in lean} == set(ids)
        for job in lean:
            expected = _through_the_model(runtime, job["id"])
            assert list(job) == list(JobOut.model_fields)  # every field, in the model's order
            assert job == expected
            assert json.dumps(job) == json.dumps(expected)  # types too: True is not 1, 1.0 is not 1
        # In the order asked for: the sort field (missing ones last), then creation time.
        in_order = sorted(lean, key=lambda job: (job[sort_by] is None, job[sort_by] or "", job["created_at"]))
        assert [job["id"] for job in lean] == [job["id"] for job in in_order]
    odd = _through_the_model(runtime, ids[-1])
    assert (odd["started_at"], odd["finished_at"]) == ("2026-03-04T05:06:07.500Z", "2026-03-04T05:16:07.123Z")
    assert odd["extra_vars"] == {"limit": None, "n": [None, None, 1], "s": 'é\n"q"'}

    # The whole answer over HTTP, envelope and pagination included, against the pydantic envelope.
    response = await client.get("/api/v1/jobs?limit=5&page=2&sort_order=asc")
    assert response.status_code == 200 and response.content_type == "application/json"
    body = await json_of(response)
    page = [_through_the_model(runtime, job_id) for job_id in ids[5:10]]
    pagination = Pagination(page=2, limit=5, total=len(CASES), total_pages=3, has_next=True, has_prev=True)
    expected_body = Envelope(data=JobList(jobs=[JobOut(**job) for job in page], pagination=pagination))
    expected = expected_body.model_dump(mode="json")
    assert list(body) == list(expected) and body["timestamp"].endswith("Z")
    assert {**body, "timestamp": None} == {**expected, "timestamp": None}


async def test_each_filter_shape_finds_what_it_names(app: Quart, client: Client) -> None:
    """Filters combined (each combination compiles its SQL once): the values of one request never leak into
    another's."""
    runtime: Runtime = app.extensions[RUNTIME_KEY]
    servers = [(await create_server(client, password_server(f"db-{n}")))["id"] for n in range(3)]
    ids = _store(runtime, servers)

    async def listed(query: str) -> list[str]:
        return [
            job["id"] for job in (await json_of(await client.get(f"/api/v1/jobs?limit=100&{query}")))["data"]["jobs"]
        ]

    by_server = {server: [i for n, i in enumerate(ids) if n % 3 == servers.index(server)] for server in servers}
    for server in servers:
        assert set(await listed(f"server_id={server}")) == set(by_server[server])
        assert set(await listed(f"server_id={server}&status=queued")) == {
            i for n, i in enumerate(ids) if i in by_server[server] and CASES[n]["status"] == "queued"
        }
    assert await listed("status=canceled&search=YES") == [ids[5]]
    assert await listed("status=completed&search=yes") == []
    assert await listed("search=%25_") == [ids[4]]  # "%_" literally
    assert await listed(f"server_id={servers[1]}&search={quote('ÉTÉ')}") == [ids[1]]
    assert await listed(f"server_id={servers[0]}&search={quote('été')}") == []
    batched = next(job_id for job_id, case in zip(ids, CASES, strict=True) if case.get("batch"))
    batch = runtime.database.call(lambda: Job.get_by_id(batched).batch_id)
    assert await listed(f"batch_id={batch}") == [batched]
    assert await listed(f"batch_id={batch}&status=running") == []
    assert await listed("batch_id=not-an-id") == [] and await listed("server_id=nope&status=queued") == []
    assert await listed("sort_by=finished_at&sort_order=desc&status=failed") == [ids[2]]
