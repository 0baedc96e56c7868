"""Reading jobs: one, a filtered page, and their output."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import peewee as pw

from app.db import is_postgresql, rows
from app.errors import NotFound
from app.jobqueue.totals import ListingTotals
from app.models import FINISHED_STATUSES, TASK_STREAM, Job, JobChunk, Server
from app.servers import parse_id

SortField = Literal["created_at", "started_at", "finished_at"]


def get_job(job_id: str) -> Job:
    job = Job.select(Job, Server).join(Server).where(Job.id == parse_id(job_id, "Job")).get_or_none()
    if job is None:
        raise NotFound("Job not found")
    return job


@dataclass(frozen=True)
class JobFilter:
    page: int = 1
    limit: int = 20
    status: str | None = None
    server_id: str | None = None
    batch_id: str | None = None
    search: str | None = None
    sort_by: SortField = "created_at"
    sort_order: Literal["asc", "desc"] = "desc"


# SQLite's own LIKE ignores the case of ASCII letters only; Unicode case folding takes a call into Python per
# value (app/db.py) that holds the GIL. Only values with a character beyond ASCII need it.
_BEYOND_ASCII = "*[^\x01-\x7f]*"


def _contains_ignoring_case(field: pw.Field, text: str) -> Any:
    """``field`` contains ``text``, case-insensitively, with ``%`` and ``_`` taken literally."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = f"%{escaped}%"

    def like(value: Any) -> pw.NodeList:
        return pw.NodeList((value, pw.SQL("LIKE"), pattern, pw.SQL("ESCAPE '\\'")))

    if is_postgresql(Job._meta.database):
        return like(pw.fn.LOWER(field))
    # The pattern is lower-case, so for an all-ASCII value SQLite's LIKE gives what LIKE on its lower case would.
    return like(field) | (pw.NodeList((field, pw.SQL("GLOB"), _BEYOND_ASCII)) & like(pw.fn.nr_lower(field)))


def _conditions(query: JobFilter) -> list[Any] | None:
    """The WHERE terms of a listing; None when it can match nothing."""
    conditions: list[Any] = []
    if query.status:
        conditions.append(Job.status == query.status)
    if query.server_id:
        try:
            conditions.append(Job.server == parse_id(query.server_id, "Server"))
        except NotFound:
            return None
    if query.batch_id:
        try:
            conditions.append(Job.batch_id == parse_id(query.batch_id, "Batch"))
        except NotFound:
            return None
    if query.search:
        conditions.append(
            _contains_ignoring_case(Job.command, query.search)
            | _contains_ignoring_case(Job.args, query.search)
            | _contains_ignoring_case(Job.script, query.search)
            | _contains_ignoring_case(Job.playbook, query.search)
        )
    return conditions


def list_jobs(query: JobFilter, totals: ListingTotals) -> tuple[list[Job], int]:
    conditions = _conditions(query)
    if conditions is None:
        return [], 0

    def filtered(select: Any) -> Any:
        return select.where(*conditions) if conditions else select

    def count() -> int:
        # Every job has its server (a RESTRICT foreign key): no join needed to count them.
        return int(filtered(Job.select(pw.fn.COUNT(Job.id))).scalar())

    total = totals.total((query.status, query.server_id, query.batch_id, query.search), count)
    # Only the server fields a listing shows (not its encrypted credentials).
    page = filtered(Job.select(Job, Server.id, Server.name, Server.hostname).join(Server))
    page = page.order_by(*_order(query)).paginate(query.page, query.limit)
    return list(page), total


def _order(query: JobFilter) -> list[Any]:
    """The sort field (missing times last), then creation time and id: a stable order for pages."""
    desc = query.sort_order == "desc"

    def term(field: pw.Field, nulls: str | None = None) -> Any:
        return field.desc(nulls=nulls) if desc else field.asc(nulls=nulls)

    tie_break = [term(Job.created_at), term(Job.id)]
    if query.sort_by == "created_at":
        # Never null: NULLS LAST here would only keep PostgreSQL from walking the index in this order.
        return tie_break
    return [term(getattr(Job, query.sort_by), nulls="LAST"), *tie_break]


@dataclass(frozen=True)
class JobOutput:
    output: str
    stdout: str
    stderr: str


def omission_marker(omitted_bytes: int) -> str:
    return f"\n[newremora: {omitted_bytes} bytes of output omitted here (output cap); head and tail kept]\n"


def job_output(job: Job) -> JobOutput:
    """stdout and stderr interleaved in arrival order, and each alone; where the cap dropped bytes of a view,
    a marker says how many."""
    omitted = {"output": job.omitted_bytes, "stdout": job.stdout_omitted, "stderr": job.stderr_omitted}
    parts: dict[str, list[str]] = {name: [] for name in omitted}
    boundary = job.head_last_seq if job.omitted_bytes > 0 else None
    chunks = (
        JobChunk.select(JobChunk.seq, JobChunk.stream, JobChunk.data)
        .where((JobChunk.job == job.id) & (JobChunk.stream != TASK_STREAM))
        .order_by(JobChunk.seq)
    )
    for seq, stream, data in rows(chunks):
        if boundary is not None and seq > boundary:
            _mark_omissions(parts, omitted)
            boundary = None
        parts["output"].append(data)
        parts[stream].append(data)
    if boundary is not None:
        _mark_omissions(parts, omitted)
    return JobOutput(*("".join(parts[name]) for name in ("output", "stdout", "stderr")))


def _mark_omissions(parts: dict[str, list[str]], omitted: dict[str, int]) -> None:
    for name, count in omitted.items():
        if count:
            parts[name].append(omission_marker(count))


def task_events(job: Job) -> list[dict[str, Any]]:
    """A playbook job's task results so far, in order, with the id each has in the job's stream."""
    query = (
        JobChunk.select(JobChunk.seq, JobChunk.data)
        .where((JobChunk.job == job.id) & (JobChunk.stream == TASK_STREAM))
        .order_by(JobChunk.seq)
    )
    return [{"id": seq, **json.loads(data)} for seq, data in rows(query)]


@dataclass(frozen=True)
class JobState:
    status: str
    exit_code: int | None
    failure_reason: str | None
    error: str | None
    started_at: datetime | None
    finished_at: datetime | None
    cancel_requested_at: datetime | None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED_STATUSES


@dataclass(frozen=True)
class Chunk:
    seq: int
    stream: str
    data: str


def chunks_after(job_id: str, seq: int, limit: int) -> list[Chunk]:
    query = (
        JobChunk.select(JobChunk.seq, JobChunk.stream, JobChunk.data)
        .where((JobChunk.job == job_id) & (JobChunk.seq > seq))
        .order_by(JobChunk.seq)
        .limit(limit)
    )
    return [Chunk(*row) for row in rows(query)]


def state_and_chunks_after(job_id: str, seq: int, limit: int) -> tuple[JobState, list[Chunk]]:
    """The state first, then the chunks: a finished state guarantees every chunk is already stored."""
    job = Job.get_by_id(job_id)
    state = JobState(
        status=job.status,
        exit_code=job.exit_code,
        failure_reason=job.failure_reason,
        error=job.error,
        started_at=job.started_at,
        finished_at=job.finished_at,
        cancel_requested_at=job.cancel_requested_at,
    )
    return state, chunks_after(job_id, seq, limit)
