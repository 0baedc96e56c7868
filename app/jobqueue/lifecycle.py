"""Job and worker state changes: finish, cancel, host keys, worker registration and heartbeats."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

import peewee as pw

from app.clock import utcnow
from app.errors import Conflict
from app.jobqueue.announce import announce_status
from app.jobqueue.reads import get_job
from app.models import Credential, Job, Server, Worker


def finish_job(
    job_id: str, worker_id: str, exit_code: int | None, failure_reason: str | None, error: str | None
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
        announce_status(job_id)
    return status


@dataclass(frozen=True)
class CancelOutcome:
    job: Job
    immediate: bool  # True: it was queued and is canceled now; False: the running job is being stopped


def cancel_job(job_id: str) -> CancelOutcome:
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
        announce_status(job.id)
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


def requeue_jobs(worker_id: str, job_ids: list[str]) -> int:
    """Queue again running jobs this worker claimed but never started (its run stopped first)."""
    requeued = int(
        Job.update(status="queued", worker=None, started_at=None)
        .where(Job.id.in_(job_ids) & (Job.worker == worker_id) & (Job.status == "running"))
        .execute()
    )
    for job_id in job_ids:
        announce_status(job_id)
    return requeued


def trust_host_key(server_id: str, host_key: str) -> None:
    """Trust on first use: only a server without a trusted key takes one."""
    Server.update(host_key=host_key).where((Server.id == server_id) & Server.host_key.is_null()).execute()


def register_worker(threads: int, batch_size: int) -> str:
    worker = Worker.create(hostname=socket.gethostname(), pid=os.getpid(), threads=threads, batch_size=batch_size)
    return str(worker.id)


def stop_dead_local_workers() -> int:
    """Workers of this host whose process is gone (a kill -9, a crash) are stopped now, so their running
    jobs are re-attached at once rather than after the heartbeat timeout."""
    hostname = socket.gethostname()
    dead = [
        worker.id
        for worker in Worker.select().where((Worker.hostname == hostname) & Worker.stopped_at.is_null())
        if not _process_exists(worker.pid)
    ]
    if dead:
        Worker.update(stopped_at=utcnow()).where(Worker.id.in_(dead)).execute()
    return len(dead)


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def heartbeat(worker_id: str) -> None:
    Worker.update(heartbeat_at=utcnow()).where(Worker.id == worker_id).execute()


def stop_worker(worker_id: str) -> None:
    Worker.update(stopped_at=utcnow()).where(Worker.id == worker_id).execute()


def note_connectivity(server_id: str, connected: bool, message: str, response_ms: int | None = None) -> None:
    """What the last contact with a server showed (a check, or a job's connection)."""
    Server.update(
        last_status="connected" if connected else "disconnected",
        last_checked_at=utcnow(),
        last_response_ms=response_ms,
        last_message=message[:1000],
    ).where(Server.id == server_id).execute()
