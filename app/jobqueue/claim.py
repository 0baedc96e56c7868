"""Claiming work: queued jobs, and claimed jobs whose worker is gone or that were handed back: a running job is
re-attached (never started again); a starting job is started as if new (starting on the target is idempotent,
so a job the lost worker did start is then re-attached, and one it did not is started, once)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

import peewee as pw

from app.clock import utcnow
from app.db import is_postgresql
from app.db import rows as db_rows
from app.jobkinds import runs_alone
from app.jobqueue.announce import JobEvents
from app.jobstates import CLAIMED
from app.models import Credential, Job, Server, Worker
from app.notifications.outbox import queue_ended

# Any constant works; every process that claims from this database uses the same one.
CLAIM_LOCK_KEY: Final = 0x4E52_434C


@dataclass(frozen=True)
class Claimed:
    job: Job
    server: Server
    reattach: bool


@contextmanager
def _claim_transaction(database: pw.Database) -> Iterator[None]:
    # One claimer at a time: the per-server limit needs a consistent count of running jobs, which row locks
    # (SKIP LOCKED) alone cannot give. A claim is one short transaction, so this is no bottleneck.
    # SQLite transactions all begin IMMEDIATE (app/db.py), which serialises them the same way.
    with database.atomic():
        if is_postgresql(database):
            database.execute_sql("SELECT pg_advisory_xact_lock(%s)", (CLAIM_LOCK_KEY,))
        yield


def _dead_worker_ids(dead_after: timedelta) -> list[str]:
    cutoff = utcnow() - dead_after
    dead = Worker.select(Worker.id).where((Worker.stopped_at.is_null(False)) | (Worker.heartbeat_at < cutoff))
    return [row.id for row in dead]


@dataclass(frozen=True)
class _Orphan:
    job_id: str
    kind: str
    started: bool  # seen started on its target (running): re-attached; else (starting) started again, once


def _orphans(dead_worker_ids: list[str], limit: int) -> list[_Orphan]:
    # A job handed back after its target stopped answering waits for its next try (reattach_at); one whose
    # worker died is taken at once.
    handed_back = Job.worker.is_null(True) & (Job.reattach_at.is_null(True) | (Job.reattach_at <= utcnow()))
    orphaned = handed_back
    if dead_worker_ids:
        orphaned |= Job.worker.in_(dead_worker_ids)
    rows = (
        Job.select(Job.id, Job.kind, Job.status)
        .where(Job.status.in_(CLAIMED) & orphaned)
        .order_by(Job.created_at)
        .limit(limit)
        .tuples()
    )
    return [_Orphan(str(job_id), str(kind), status == "running") for job_id, kind, status in db_rows(rows)]


def _interrupt_playbook_jobs(job_ids: list[str]) -> None:
    """A playbook ran inside the Ansible process that is gone: there is nothing to re-attach to."""
    now = utcnow()
    Job.update(
        status="failed",
        failure_reason="interrupted",
        error="the worker running this playbook stopped (a playbook run cannot be re-attached)",
        finished_at=now,
        become_password_enc=None,
        secret_parameters_enc=None,
    ).where(Job.id.in_(job_ids) & Job.status.in_(CLAIMED)).execute()
    queue_ended(job_ids)


def _one_kind_of_run(candidates: list[tuple[str, str]]) -> list[str]:
    """What one run takes: a playbook job alone (it has an Ansible run of its own), or command and script
    jobs together; the first candidate (highest priority, oldest) decides."""
    if not candidates:
        return []
    first_id, first_kind = candidates[0]
    if runs_alone(first_kind):
        return [first_id]
    return [job_id for job_id, kind in candidates if not runs_alone(kind)]


def _next_queued(limit: int, per_server: int) -> list[tuple[str, str]]:
    # Highest priority first, FIFO within a priority, and never more than `per_server` running on a server.
    ranked = Job.select(
        Job.id,
        Job.kind,
        Job.server,
        Job.priority,
        Job.created_at,
        pw.fn.ROW_NUMBER()
        .over(partition_by=[Job.server], order_by=[Job.priority.desc(), Job.created_at, Job.id])
        .alias("rank_in_server"),
    ).where(Job.status == "queued")
    running = (
        Job.select(Job.server.alias("server_id"), pw.fn.COUNT(Job.id).alias("running"))
        .where(Job.status.in_(CLAIMED))
        .group_by(Job.server)
    )
    ranked_q = ranked.alias("q")
    running_r = running.alias("r")
    query = (
        Job.select(ranked_q.c.id, ranked_q.c.kind)
        .from_(ranked_q)
        .join(running_r, pw.JOIN.LEFT_OUTER, on=(running_r.c.server_id == ranked_q.c.server_id))
        .where(ranked_q.c.rank_in_server + pw.fn.COALESCE(running_r.c.running, 0) <= per_server)
        .order_by(ranked_q.c.priority.desc(), ranked_q.c.created_at, ranked_q.c.id)
        .limit(limit)
        .tuples()
    )
    return [(str(job_id), str(kind)) for job_id, kind in db_rows(query)]


def claim_jobs(
    events: JobEvents,
    worker_id: str,
    limit: int,
    per_server: int,
    dead_after: timedelta,
    fill: int = 1,
    commands_only: bool = False,
) -> list[Claimed]:
    """Take up to ``limit`` jobs for this worker, in one transaction.

    With ``fill`` > 1 (the caller has another run that takes new work as soon as its round ends), fewer than
    ``fill`` queued jobs are left to that run rather than start Ansible for them: its next round takes them
    without Ansible's start-up, and one Ansible process holds them instead of several. Jobs of dead workers are
    always taken. ``commands_only``: no playbook job (for a run that is under way: a playbook job needs an Ansible run
    of its own). Every job it changed is announced once the claim has committed."""
    with _claim_transaction(Job._meta.database):
        orphans = _orphans(_dead_worker_ids(dead_after), limit)
        lost_playbooks = [orphan.job_id for orphan in orphans if runs_alone(orphan.kind)]
        if lost_playbooks:
            _interrupt_playbook_jobs(lost_playbooks)
        orphan_ids = [orphan.job_id for orphan in orphans if not runs_alone(orphan.kind)]
        started = {orphan.job_id for orphan in orphans if orphan.started}
        if orphan_ids:
            Job.update(worker=worker_id, attempt=Job.attempt + 1, reattach_at=None).where(
                Job.id.in_(orphan_ids)
            ).execute()
        room = limit - len(orphan_ids)
        # A run is either re-attached and new command jobs, or one new playbook job.
        candidates = _next_queued(room, per_server) if room > 0 else []
        if orphan_ids or commands_only:
            candidates = [(job_id, kind) for job_id, kind in candidates if not runs_alone(kind)]
        queued_ids = _one_kind_of_run(candidates)
        alone = bool(candidates) and runs_alone(candidates[0][1])
        held_back = 0 < len(queued_ids) < fill
        if held_back and not alone:
            queued_ids = []
        if queued_ids:
            # A playbook job's Ansible run starts at once: it is running. A command or script job is starting
            # until its target answers (it may wait for a connection, or for its run's Ansible to start).
            if alone:
                claimed_as: dict[str, object] = {"status": "running", "started_at": utcnow()}
            else:
                claimed_as = {"status": "starting"}
            Job.update(worker=worker_id, attempt=1, **claimed_as).where(
                Job.id.in_(queued_ids) & (Job.status == "queued")
            ).execute()
    ids = orphan_ids + queued_ids
    # Re-attached jobs too: their streams learn of their new worker's output from the start.
    events.changed(lost_playbooks + ids)
    if not ids:
        return []
    query = Job.select(Job, Server, Credential).join(Server).join(Credential, pw.JOIN.LEFT_OUTER)
    jobs = {job.id: job for job in query.where(Job.id.in_(ids))}
    return [Claimed(jobs[i], jobs[i].server, reattach=i in started) for i in ids if i in jobs]
