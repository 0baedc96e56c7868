"""Reading jobs: one, and its output (a page of them: ``listing``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.db import rows
from app.errors import NotFound
from app.jobqueue.output import from_stored
from app.jobstates import ENDED
from app.models import TASK_STREAM, Job, JobChunk, Server
from app.scopes import Visible, require_visible
from app.servers import parse_id


def get_job(job_id: str, visible: Visible = None) -> Job:
    """The job with its server; 404 if missing, or if its server is not among ``visible`` (out of scope)."""
    job = Job.select(Job, Server).join(Server).where(Job.id == parse_id(job_id, "Job")).get_or_none()
    if job is None:
        raise NotFound("Job not found")
    require_visible([job.server_id], visible, "Job")
    return job


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
        text = from_stored(data)
        parts["output"].append(text)
        parts[stream].append(text)
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
    return [{"id": seq, **json.loads(from_stored(data))} for seq, data in rows(query)]


@dataclass(frozen=True)
class JobState:
    status: str
    exit_code: int | None
    failure_reason: str | None
    error: str | None
    started_at: datetime | None
    finished_at: datetime | None
    cancel_requested_at: datetime | None
    contact_lost_at: datetime | None = None

    @property
    def finished(self) -> bool:
        return self.status in ENDED


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
    return [Chunk(seq, stream, from_stored(data)) for seq, stream, data in rows(query)]


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
        contact_lost_at=job.contact_lost_at,
    )
    return state, chunks_after(job_id, seq, limit)
