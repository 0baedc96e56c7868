"""Retention: how long ended jobs, their output and the audit trail are kept, and the one pruner that deletes the
rest.

Each prunable kind is one entry of ``KINDS``: the runtime setting giving its days (0: kept forever), a survey of
what is older than a cutoff (count, oldest, newest: what ``newremora prune --dry-run`` says) and one batch of
deletion in one short transaction. Batches are small and a pause separates them, so that the job queue's claims
(one short transaction each behind a lock, app/jobqueue/claim.py) never wait long behind a prune: on SQLite a batch
holds the one write lock, on PostgreSQL it only locks the rows it deletes (bench/prune.py measures the claims).

Jobs go only once ended (``jobstates.ENDED``) and finished before the cutoff, and never while a job of their batch
is still active: a batch is pruned whole, after its last job ended. Output goes first (its chunks, then the job
is marked ``output_pruned_at``), then jobs (chunks first, then the rows), then audit rows.

Every service process runs a ``Pruner`` thread; on PostgreSQL a pass holds a session advisory lock taken with a
try-lock, so one process prunes at a time and the others skip that pass.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import peewee as pw

from app.clock import utcnow
from app.db import Database, is_postgresql
from app.db import rows as db_rows
from app.errors import Conflict
from app.jobstates import ACTIVE, ENDED
from app.models import AuditEvent, Job, JobChunk, Notification, ScheduleRun
from app.notifications.outbox import DEAD, DELIVERED

log = logging.getLogger(__name__)

# Jobs (with their chunks) or audit rows per transaction: a few milliseconds each, so a claim waiting behind one
# barely notices (bench/prune.py, docs/benchmarks.md).
PRUNE_BATCH: Final = 200
# Between two batches: claims and submissions get the database in between.
PRUNE_PAUSE_S: Final = 0.02
PRUNE_EVERY_S: Final = 3600.0
# Any constant works; every process pruning this database uses the same one (claims use 0x4E52_434C).
PRUNE_LOCK_KEY: Final = 0x4E52_5052


@dataclass(frozen=True)
class Prunable:
    """One kind of thing kept for a while: ``survey`` and ``prune_batch`` run in a database thread."""

    kind: str
    label: str
    setting: str  # the runtime setting (app/runtime_settings.py) giving its retention in days; 0: forever
    # (count, oldest, newest) of what is older than the cutoff
    survey: Callable[[datetime], tuple[int, datetime | None, datetime | None]]
    # Deletes at most ``batch`` of them, oldest first, in the caller's transaction; returns the times of what went.
    prune_batch: Callable[[datetime, int], list[datetime]]


def _job_expired(cutoff: datetime) -> Any:
    """Ended before the cutoff, and no job of its batch still active."""
    other = Job.alias("batch_job")
    active_in_batch = other.select(pw.SQL("1")).where((other.batch_id == Job.batch_id) & other.status.in_(ACTIVE))
    return (
        Job.status.in_(ENDED)
        & (Job.finished_at < cutoff)
        & (Job.batch_id.is_null(True) | ~pw.fn.EXISTS(active_in_batch))
    )


def _survey(query: Any, when: pw.Field) -> tuple[int, datetime | None, datetime | None]:
    row = query.select(pw.fn.COUNT(pw.SQL("*")), pw.fn.MIN(when), pw.fn.MAX(when)).tuples().get()
    count, oldest, newest = row
    return int(count), _as_time(when, oldest), _as_time(when, newest)


def _as_time(field: pw.Field, value: Any) -> datetime | None:
    # MIN/MAX come back as stored (SQLite: text), not through the field's conversion.
    return None if value is None else field.python_value(value)


def _oldest_jobs(where: Any, batch: int) -> list[tuple[str, datetime]]:
    query = Job.select(Job.id, Job.finished_at).where(where).order_by(Job.finished_at).limit(batch)
    return [(str(job_id), finished) for job_id, finished in db_rows(query)]


def _output_where(cutoff: datetime) -> Any:
    return Job.output_pruned_at.is_null(True) & _job_expired(cutoff)


def survey_output(cutoff: datetime) -> tuple[int, datetime | None, datetime | None]:
    return _survey(Job.select().where(_output_where(cutoff)), Job.finished_at)


def prune_output(cutoff: datetime, batch: int) -> list[datetime]:
    """The chunks of the oldest ended jobs; the jobs keep their rows and say when their output went."""
    found = _oldest_jobs(_output_where(cutoff), batch)
    ids = [job_id for job_id, _ in found]
    if ids:
        JobChunk.delete().where(JobChunk.job.in_(ids)).execute()
        Job.update(output_pruned_at=utcnow()).where(Job.id.in_(ids)).execute()
    return [finished for _, finished in found]


def survey_jobs(cutoff: datetime) -> tuple[int, datetime | None, datetime | None]:
    return _survey(Job.select().where(_job_expired(cutoff)), Job.finished_at)


def prune_jobs(cutoff: datetime, batch: int) -> list[datetime]:
    """The oldest ended jobs: their chunks first (the cascade would find them one job at a time), then the rows."""
    found = _oldest_jobs(_job_expired(cutoff), batch)
    ids = [job_id for job_id, _ in found]
    if ids:
        JobChunk.delete().where(JobChunk.job.in_(ids)).execute()
        Job.delete().where(Job.id.in_(ids) & Job.status.in_(ENDED)).execute()
    return [finished for _, finished in found]


def survey_audit(cutoff: datetime) -> tuple[int, datetime | None, datetime | None]:
    return _survey(AuditEvent.select().where(AuditEvent.at < cutoff), AuditEvent.at)


def prune_audit(cutoff: datetime, batch: int) -> list[datetime]:
    query = AuditEvent.select(AuditEvent.id, AuditEvent.at).where(AuditEvent.at < cutoff)
    found = db_rows(query.order_by(AuditEvent.id).limit(batch))
    if found:
        AuditEvent.delete().where(AuditEvent.id.in_([row_id for row_id, _ in found])).execute()
    return [at for _, at in found]


def _delivery_expired(cutoff: datetime) -> Any:
    # Pending notifications stay whatever their age: they are still owed to their receiver.
    return Notification.state.in_((DELIVERED, DEAD)) & (Notification.created_at < cutoff)


def survey_deliveries(cutoff: datetime) -> tuple[int, datetime | None, datetime | None]:
    return _survey(Notification.select().where(_delivery_expired(cutoff)), Notification.created_at)


def prune_deliveries(cutoff: datetime, batch: int) -> list[datetime]:
    """Delivered and dead notifications, their attempts with them (the foreign key cascades)."""
    query = Notification.select(Notification.id, Notification.created_at).where(_delivery_expired(cutoff))
    found = db_rows(query.order_by(Notification.created_at).limit(batch))
    if found:
        Notification.delete().where(Notification.id.in_([row_id for row_id, _ in found])).execute()
    return [at for _, at in found]


def survey_schedule_runs(cutoff: datetime) -> tuple[int, datetime | None, datetime | None]:
    return _survey(ScheduleRun.select().where(ScheduleRun.due_at < cutoff), ScheduleRun.due_at)


def prune_schedule_runs(cutoff: datetime, batch: int) -> list[datetime]:
    """A schedule's history of ticks, kept as long as the jobs they launched. A tick that old is long past its
    schedule's next run, so its row no longer guards it against firing twice."""
    query = ScheduleRun.select(ScheduleRun.id, ScheduleRun.due_at).where(ScheduleRun.due_at < cutoff)
    found = db_rows(query.order_by(ScheduleRun.id).limit(batch))
    if found:
        ScheduleRun.delete().where(ScheduleRun.id.in_([row_id for row_id, _ in found])).execute()
    return [at for _, at in found]


# In the order a pass prunes them. Another kind (notification deliveries, ...) is one more entry here, with its
# runtime setting in app/runtime_settings.py REGISTRY.
KINDS: Final[dict[str, Prunable]] = {
    p.kind: p
    for p in (
        Prunable("output", "job output", "output_retention_days", survey_output, prune_output),
        Prunable("jobs", "ended jobs", "job_retention_days", survey_jobs, prune_jobs),
        Prunable("schedule_runs", "schedule runs", "job_retention_days", survey_schedule_runs, prune_schedule_runs),
        Prunable("audit", "audit rows", "audit_retention_days", survey_audit, prune_audit),
        Prunable(
            "deliveries",
            "notification deliveries",
            "notification_retention_days",
            survey_deliveries,
            prune_deliveries,
        ),
    )
}


@dataclass(frozen=True)
class Swept:
    """What went (or, in a dry run, would go) of one kind."""

    kind: str
    label: str
    days: int  # its retention; 0: kept forever (nothing goes)
    count: int
    oldest: datetime | None
    newest: datetime | None


def _cutoff(days: int, now: datetime) -> datetime:
    return now - timedelta(days=days)


def survey(database: Database, days_of: Callable[[str], int]) -> list[Swept]:
    """What a pass would delete now, per kind (changes nothing)."""
    now = utcnow()
    found = []
    for kind in KINDS.values():
        days = days_of(kind.setting)
        count, oldest, newest = database.call(kind.survey, _cutoff(days, now)) if days > 0 else (0, None, None)
        found.append(Swept(kind.kind, kind.label, days, count, oldest, newest))
    return found


def _day(value: datetime | None) -> str:
    return "-" if value is None else f"{value:%Y-%m-%d %H:%M}"


def report(swept: list[Swept], dry_run: bool) -> list[str]:
    """One line per kind, as ``newremora prune`` prints it."""
    verb = "would go" if dry_run else "went"
    lines = []
    for item in swept:
        if item.days <= 0:
            lines.append(f"{item.label}: kept forever ({KINDS[item.kind].setting} is 0)")
        elif item.count == 0:
            lines.append(f"{item.label}: none older than {item.days} days")
        else:
            span = f"{_day(item.oldest)} .. {_day(item.newest)} UTC"
            lines.append(f"{item.label}: {item.count} {verb} (older than {item.days} days: {span})")
    return lines


@contextmanager
def _pass_lock(database: pw.Database) -> Iterator[bool]:
    """On PostgreSQL, whether this session got the pruning lock (held until the pass ends); SQLite: always (one
    process writes its file, and each batch is an immediate transaction)."""
    if not is_postgresql(database):
        yield True
        return
    got = bool(database.execute_sql("SELECT pg_try_advisory_lock(%s)", (PRUNE_LOCK_KEY,)).fetchone()[0])
    try:
        yield got
    finally:
        if got:
            database.execute_sql("SELECT pg_advisory_unlock(%s)", (PRUNE_LOCK_KEY,))


def prune(
    database: Database,
    days_of: Callable[[str], int],
    stop: threading.Event | None = None,
    batch: int = PRUNE_BATCH,
    pause_s: float = PRUNE_PAUSE_S,
) -> list[Swept]:
    """One pass: every kind with a retention, batch by batch (each its own short transaction, ``pause_s`` between
    them), until nothing older is left or ``stop`` is set. Raises Conflict when another process holds the lock."""
    stop = stop or threading.Event()
    now = utcnow()
    gone: list[Swept] = []
    with database.connection():  # one session for the pass: the advisory lock is held by it
        peewee = database.peewee
        with _pass_lock(peewee) as got:
            if not got:
                raise Conflict("another process is pruning this database now: try again in a while")
            for kind in KINDS.values():
                days = days_of(kind.setting)
                count, oldest, newest = 0, None, None
                while days > 0 and not stop.is_set():
                    with peewee.atomic():
                        times = kind.prune_batch(_cutoff(days, now), batch)
                    if times:
                        count += len(times)
                        oldest = min(oldest or times[0], *times)
                        newest = max(newest or times[0], *times)
                    if len(times) < batch or stop.wait(pause_s):
                        break
                if count:
                    log.info("retention: %d %s older than %d days pruned", count, kind.label, days)
                gone.append(Swept(kind.kind, kind.label, days, count, oldest, newest))
    return gone


class Pruner:
    """Prunes every kind now and then, in a thread of its own (never an API or worker database thread): at start,
    then every ``every_s``. The retentions are read at each pass: an administrator may change them at runtime."""

    def __init__(
        self,
        database: Database,
        days_of: Callable[[str], int],
        every_s: float = PRUNE_EVERY_S,
        pause_s: float = PRUNE_PAUSE_S,
    ) -> None:
        self._database = database
        self._days_of = days_of
        self._every_s = every_s
        self._pause_s = pause_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="prune", daemon=True)
        self.passes = 0  # passes of its thread so far, ended or failed

    def start(self) -> None:
        self._thread.start()

    def run_pass(self) -> list[Swept] | None:
        """One pass with the retentions in effect now; None when another process is pruning (this one skips)."""
        try:
            return prune(self._database, self._days_of, self._stop, pause_s=self._pause_s)
        except Conflict:
            log.debug("retention: another process is pruning; this pass is skipped")
            return None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_pass()
            except Exception:  # a database away now is tried again at the next pass
                log.warning("retention: pruning failed", exc_info=True)
            self.passes += 1
            self._stop.wait(self._every_s)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
