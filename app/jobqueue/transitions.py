"""A job's changes of state after its claim: finish, cancel, hand back, queue again. Each announces the change
once its transaction has committed (app/jobqueue/announce.py)."""

from __future__ import annotations

from dataclasses import dataclass

import peewee as pw

from app.clock import utcnow
from app.errors import Conflict
from app.jobqueue.announce import JobEvents
from app.jobqueue.reads import get_job
from app.models import Credential, Job, Server


def finish_job(
    events: JobEvents,
    job_id: str,
    worker_id: str,
    exit_code: int | None,
    failure_reason: str | None,
    error: str | None,
) -> str | None:
    """Record the end of a running job; returns its final status (None if the job is not this worker's)."""
    with Job._meta.database.atomic():
        job = Job.get_or_none(Job.id == job_id)
        if job is None or job.status != "running" or job.worker_id != worker_id:
            return None
        now = utcnow()
        if job.cancel_requested_at is not None or failure_reason == "canceled":
            status, failure_reason, error = "canceled", None, "canceled by request"
        elif failure_reason is None and exit_code == 0:
            status = "completed"
        else:
            status = "failed"
        Job.update(
            status=status,
            exit_code=exit_code,
            failure_reason=failure_reason,
            error=error,
            finished_at=now,
            canceled_at=now if status == "canceled" else None,
            become_password_enc=None,  # a job's own sudo password is kept no longer than it is needed
        ).where(Job.id == job_id).execute()
    events.changed([job_id])
    return status


@dataclass(frozen=True)
class CancelOutcome:
    job: Job
    immediate: bool  # True: it was queued and is canceled now; False: the running job is being stopped


def cancel_job(events: JobEvents, job_id: str) -> CancelOutcome:
    with Job._meta.database.atomic():
        job = get_job(job_id)
        now = utcnow()
        if job.status == "queued":
            Job.update(
                status="canceled",
                canceled_at=now,
                finished_at=now,
                error="canceled by request",
                become_password_enc=None,
            ).where((Job.id == job.id) & (Job.status == "queued")).execute()
        elif job.status == "running":
            if job.cancel_requested_at is None:
                Job.update(cancel_requested_at=now).where(Job.id == job.id).execute()
        else:
            raise Conflict(f"job is already {job.status}; only queued or running jobs can be canceled")
    if job.status == "running":
        events.cancel_requested(job.id)
    else:
        events.changed([job.id])
    job = get_job(job.id)
    return CancelOutcome(job=job, immediate=job.status == "canceled")


def cancel_requests(worker_id: str) -> list[Job]:
    """Running jobs of this worker that somebody asked to cancel."""
    return list(
        Job.select(Job, Server, Credential)
        .join(Server)
        .join(Credential, pw.JOIN.LEFT_OUTER)
        .where((Job.worker == worker_id) & (Job.status == "running") & Job.cancel_requested_at.is_null(False))
    )


def release_jobs(worker_id: str, job_ids: list[str]) -> int:
    """Hand running jobs back (their worker thread stalled): the next claim re-attaches to them."""
    return int(
        Job.update(worker=None)
        .where(Job.id.in_(job_ids) & (Job.worker == worker_id) & (Job.status == "running"))
        .execute()
    )


def requeue_jobs(events: JobEvents, worker_id: str, job_ids: list[str]) -> int:
    """Queue again running jobs this worker claimed but never started (its run stopped first)."""
    requeued = int(
        Job.update(status="queued", worker=None, started_at=None)
        .where(Job.id.in_(job_ids) & (Job.worker == worker_id) & (Job.status == "running"))
        .execute()
    )
    events.changed(job_ids)
    return requeued
