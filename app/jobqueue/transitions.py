"""A job's changes of state after its claim: finish, cancel, hand back, queue again. Each announces the change
once its transaction has committed (app/jobqueue/announce.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

import peewee as pw

from app.clock import utcnow
from app.errors import Conflict
from app.jobqueue.announce import JobEvents
from app.jobqueue.reads import get_job
from app.jobstates import CLAIMED
from app.models import Credential, Job, Server
from app.notifications.outbox import queue_ended
from app.scopes import Visible


@dataclass(frozen=True)
class Ended:
    """How a job ended, as stored: its final status and its start (None if it never started)."""

    status: str
    started_at: datetime | None


def finish_job(
    events: JobEvents,
    job_id: str,
    worker_id: str,
    exit_code: int | None,
    failure_reason: str | None,
    error: str | None,
    ran_for: float | None = None,
) -> Ended | None:
    """Record the end of a claimed job; returns how it ended (None if the job is not this worker's).
    ``ran_for``: how long it ran, measured on its target: a short job's first answer is its end, and the service
    would otherwise date its start then. A job with an exit code ran."""
    with Job._meta.database.atomic():
        job = Job.get_or_none(Job.id == job_id)
        if job is None or job.status not in CLAIMED or job.worker_id != worker_id:
            return None
        now = utcnow()
        started_at: datetime | None = job.started_at or (now if exit_code is not None else None)
        if ran_for is not None and started_at is not None:
            # Both are upper bounds of the real start (each lags by how long the news took): the earlier is
            # closer. Never before the job existed (a target clock stepped while the job ran).
            started_at = max(job.created_at, min(started_at, now - timedelta(seconds=ran_for)))
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
            started_at=started_at,
            finished_at=now,
            canceled_at=now if status == "canceled" else None,
            contact_lost_at=None,
            reattach_at=None,
            # A job's own sudo password and secret parameter values are kept no longer than they are needed.
            become_password_enc=None,
            secret_parameters_enc=None,
        ).where(Job.id == job_id).execute()
        queue_ended([job_id])  # its notifications stand or fall with the end itself
    events.changed([job_id])
    return Ended(status, started_at)


@dataclass(frozen=True)
class CancelOutcome:
    job: Job
    immediate: bool  # True: it was queued and is canceled now; False: the running job is being stopped


def cancel_job(
    events: JobEvents, job_id: str, canceled_by: str | None = None, visible: Visible = None
) -> CancelOutcome:
    """Cancel a queued job now, or ask a claimed one's worker to stop it. ``canceled_by`` (the audit actor) is
    whoever asked first: a second request for a job already being stopped changes nothing."""
    with Job._meta.database.atomic():
        job = get_job(job_id, visible)  # out of scope: not found
        now = utcnow()
        if job.status == "queued":
            Job.update(
                status="canceled",
                canceled_at=now,
                finished_at=now,
                error="canceled by request",
                become_password_enc=None,
                secret_parameters_enc=None,
                canceled_by=canceled_by,
            ).where((Job.id == job.id) & (Job.status == "queued")).execute()
            queue_ended([job.id])
        elif job.status in CLAIMED:
            if job.cancel_requested_at is None:
                Job.update(cancel_requested_at=now, canceled_by=canceled_by).where(Job.id == job.id).execute()
        else:
            raise Conflict(f"job is already {job.status}; only queued, starting or running jobs can be canceled")
    if job.status in CLAIMED:
        events.cancel_requested(job.id)
    else:
        events.changed([job.id])
    job = get_job(job.id)
    return CancelOutcome(job=job, immediate=job.status == "canceled")


def cancel_requests(worker_id: str) -> list[Job]:
    """Claimed jobs of this worker that somebody asked to cancel."""
    return list(
        Job.select(Job, Server, Credential)
        .join(Server)
        .join(Credential, pw.JOIN.LEFT_OUTER)
        .where((Job.worker == worker_id) & Job.status.in_(CLAIMED) & Job.cancel_requested_at.is_null(False))
    )


def release_jobs(worker_id: str, job_ids: list[str]) -> int:
    """Hand claimed jobs back (their worker thread stalled): the next claim re-attaches to them (or starts them,
    once, if they were still starting)."""
    return int(
        Job.update(worker=None)
        .where(Job.id.in_(job_ids) & (Job.worker == worker_id) & Job.status.in_(CLAIMED))
        .execute()
    )


def requeue_jobs(events: JobEvents, worker_id: str, job_ids: list[str]) -> int:
    """Queue again jobs this worker claimed but never started (its run stopped first)."""
    requeued = int(
        Job.update(status="queued", worker=None, started_at=None)
        .where(Job.id.in_(job_ids) & (Job.worker == worker_id) & (Job.status == "starting"))
        .execute()
    )
    events.changed(job_ids)
    return requeued


def mark_started(events: JobEvents, job_id: str, worker_id: str) -> bool:
    """The job's target answered: it is running there (and in contact again, after a lost connection)."""
    now = utcnow()
    changed = int(
        Job.update(
            status="running",
            started_at=pw.fn.COALESCE(Job.started_at, now),
            contact_lost_at=None,
            reattach_at=None,
        )
        .where(
            (Job.id == job_id)
            & (Job.worker == worker_id)
            & Job.status.in_(CLAIMED)
            & ((Job.status == "starting") | Job.contact_lost_at.is_null(False))
        )
        .execute()
    )
    if changed:
        events.changed([job_id])
    return bool(changed)


# How long a handed-back job waits before a worker tries to re-attach to it: a quarter of the time since contact
# was lost, between these bounds (a blip is retried at once, a long outage is not hammered).
REATTACH_DELAY_MIN_S: Final = 1.0
REATTACH_DELAY_MAX_S: Final = 15.0


def lose_contact(
    events: JobEvents,
    job_id: str,
    worker_id: str,
    grace_s: int,
    error: str,
    resume: Mapping[str, int] | None = None,
) -> Ended | str | None:
    """A claimed job's target stopped answering (the job may well go on there). Within ``grace_s`` seconds of the
    first loss the job is handed back, to be re-attached by a later claim from the ``resume`` offsets of its
    streams (what the worker received but held back is read again); returns "reconnecting". Beyond, it ends
    failed / interrupted; returns how it ended. None if the job is not this worker's."""
    with Job._meta.database.atomic():
        job = Job.get_or_none(Job.id == job_id)
        if job is None or job.status not in CLAIMED or job.worker_id != worker_id:
            return None
        now = utcnow()
        lost_at = job.contact_lost_at or now
        out_of_reach = (now - lost_at).total_seconds()
        if out_of_reach >= grace_s:
            Job.update(
                status="failed",
                failure_reason="interrupted",
                error=(
                    f"lost the connection to the server and could not reconnect for {out_of_reach:.0f} s "
                    f"(NEWREMORA_RECONNECT_GRACE is {grace_s} s): {error}; the command may still be running there"
                ),
                finished_at=now,
                reattach_at=None,
                become_password_enc=None,
                secret_parameters_enc=None,
            ).where(Job.id == job_id).execute()
            queue_ended([job_id])
            outcome: Ended | str = Ended("failed", job.started_at)
        else:
            delay = min(REATTACH_DELAY_MAX_S, max(REATTACH_DELAY_MIN_S, out_of_reach / 4))
            offsets = {getattr(Job, f"{stream}_offset"): offset for stream, offset in (resume or {}).items()}
            Job.update(
                {Job.worker: None, Job.contact_lost_at: lost_at, Job.reattach_at: now + timedelta(seconds=delay)}
                | offsets
            ).where(Job.id == job_id).execute()
            outcome = "reconnecting"
    events.changed([job_id])
    return outcome
