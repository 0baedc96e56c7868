"""The durable outbox: events queued in the transaction that ended the job (so none is lost and none is queued
without its cause), leased by one delivering process at a time, and each attempt recorded. Runs in a database
thread.

An event is queued at most once per target: its idempotency key is derived from (target, event, subject) and
unique. It is marked delivered in the same statement that ends its lease, so the only window for a second POST is
a crash between the receiver's answer and that statement: the receiver recognises it by the same Idempotency-Key.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import peewee as pw

from app.clock import rfc3339, utcnow
from app.db import is_postgresql
from app.db import rows as db_rows
from app.fields import new_id
from app.jobqueue.batches import overall_status
from app.jobstates import ACTIVE, ENDED, JOB_STATUSES
from app.models import Job, Notification, NotificationAttempt, NotificationTarget, Server
from app.notifications.events import TEST_EVENT, batch_event, job_event
from app.notifications.payloads import batch_summary, job_summary
from app.notifications.targets import events_of, get_target

PENDING: Final = "pending"
DELIVERED: Final = "delivered"
DEAD: Final = "dead"
STATES: Final = (PENDING, DELIVERED, DEAD)
# Any constant works: the first key of the two-key advisory lock that serialises the ends of one batch's jobs.
BATCH_LOCK_KEY: Final = 0x4E52_4254
KEY_NAMESPACE: Final = uuid.UUID("8d0c6a52-3f1e-4c44-9a55-6e6f74696679")
MAX_BACKOFF_S: Final = 3600.0
# A delivery's lease outlasts its POST (DELIVERY_TIMEOUT_S in delivery.py) many times over.
LEASE_S: Final = 120.0


def idempotency_key(target_id: str, event: str, subject_id: str) -> str:
    return str(uuid.uuid5(KEY_NAMESPACE, f"{target_id}:{event}:{subject_id}"))


def _wants(target: NotificationTarget, event: str, template_id: str | None) -> bool:
    return event in events_of(target) and (target.template_id is None or target.template_id == template_id)


def _row(target: NotificationTarget, event: str, subject_id: str, payload: dict[str, Any]) -> dict[str, Any]:
    now = utcnow()
    return {
        "id": new_id(),
        "target": target.id,
        "event": event,
        "subject_id": subject_id,
        "idempotency_key": idempotency_key(target.id, event, subject_id),
        "payload": json.dumps(payload, separators=(",", ":")),
        "state": PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


def _lock_batch(batch_id: str) -> None:
    """Two jobs of a batch ending at once in two transactions would each see the other still running, and neither
    queue the batch's event: on PostgreSQL their ends take turns (SQLite's transactions already do)."""
    database = Job._meta.database
    if is_postgresql(database):
        database.execute_sql("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (BATCH_LOCK_KEY, batch_id))


def _batch_rows(targets: list[NotificationTarget], batch_id: str, template_id: str | None) -> list[dict[str, Any]]:
    _lock_batch(batch_id)
    query = (
        Job.select(Job.status, pw.fn.COUNT(Job.id), pw.fn.MIN(Job.created_at), pw.fn.MAX(Job.finished_at))
        .where(Job.batch_id == batch_id)
        .group_by(Job.status)
        .tuples()
    )
    counts: dict[str, int] = dict.fromkeys(JOB_STATUSES, 0)
    created: list[datetime] = []
    finished: list[datetime] = []
    for status, count, first, last in db_rows(query):
        counts[str(status)] = int(count)
        created.append(Job.created_at.python_value(first))
        if last is not None:
            finished.append(Job.finished_at.python_value(last))
    if not created or any(counts[status] for status in ACTIVE):
        return []
    status = overall_status(counts)
    event = batch_event(status)
    payload = {
        "event": event,
        "batch": batch_summary(batch_id, status, counts, min(created), max(finished, default=None)),
    }
    return [_row(target, event, batch_id, payload) for target in targets if _wants(target, event, template_id)]


def queue_ended(job_ids: Iterable[str]) -> int:
    """In the transaction that ended these jobs: one outbox row per matching enabled target for each job's end,
    and for the end of its batch when it was the batch's last job. Returns how many rows were queued."""
    ids = list(job_ids)
    targets = list(NotificationTarget.select().where(NotificationTarget.enabled == True))  # noqa: E712
    if not ids or not targets:
        return 0
    jobs = list(Job.select(Job, Server.name).join(Server).where(Job.id.in_(ids) & Job.status.in_(ENDED)))
    rows: list[dict[str, Any]] = []
    for job in jobs:
        event = job_event(job.status)
        payload = {"event": event, "job": job_summary(job, job.server.name)}
        rows.extend(
            _row(target, event, job.id, payload) for target in targets if _wants(target, event, job.template_id)
        )
    for batch_id, template_id in sorted({(job.batch_id, job.template_id or "") for job in jobs if job.batch_id}):
        rows.extend(_batch_rows(targets, batch_id, template_id or None))
    if not rows:
        return 0
    # A job's end is recorded once, but a batch's last two jobs may both see it end: the key keeps one row.
    Notification.insert_many(rows).on_conflict_ignore().execute()
    return len(rows)


def queue_test(target_id: str) -> Notification:
    """A test event for one target, whatever its events and even disabled: a new idempotency key each time."""
    target = get_target(target_id)
    payload = {"event": TEST_EVENT, "target": {"id": target.id, "name": target.name}, "sent_at": rfc3339(utcnow())}
    row = _row(target, TEST_EVENT, new_id(), payload)
    Notification.insert(row).execute()
    return Notification.get_by_id(row["id"])


@dataclass(frozen=True)
class Leased:
    notification: Notification
    target: NotificationTarget


def claim_due(holder: str, limit: int, lease_s: float = LEASE_S) -> list[Leased]:
    """Lease up to ``limit`` pending notifications that are due, of enabled targets: each by a compare-and-set of
    its lease, so two processes never hold one at once (on both databases, without a long lock)."""
    now = utcnow()
    free = Notification.lease_until.is_null(True) | (Notification.lease_until < now)
    due = (
        Notification.select(Notification.id)
        .join(NotificationTarget)
        .where((Notification.state == PENDING) & (Notification.next_attempt_at <= now) & free)
        .where(NotificationTarget.enabled == True)  # noqa: E712
        .order_by(Notification.next_attempt_at)
        .limit(limit)
    )
    leased: list[str] = []
    for row in list(due):
        taken = (
            Notification.update(lease_until=now + timedelta(seconds=lease_s), leased_by=holder)
            .where((Notification.id == row.id) & (Notification.state == PENDING) & free)
            .execute()
        )
        if taken:
            leased.append(row.id)
    if not leased:
        return []
    query = Notification.select(Notification, NotificationTarget).join(NotificationTarget)
    found = {n.id: n for n in query.where(Notification.id.in_(leased))}
    return [Leased(found[i], found[i].target) for i in leased if i in found]


def backoff_s(attempt: int, base_s: float) -> float:
    """Before the next attempt after ``attempt`` failed ones: base, 2 x base, 4 x base ... at most an hour, each
    up to a quarter longer at random (receivers that failed together are not hit together again)."""
    delay: float = min(MAX_BACKOFF_S, base_s * 2 ** max(0, attempt - 1))
    return delay * (1 + random.random() / 4)  # noqa: S311 (jitter, not a secret)


@dataclass(frozen=True)
class Outcome:
    status: int | None
    error: str | None
    duration_ms: int

    @property
    def accepted(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def record_attempt(
    notification_id: str, holder: str, number: int, outcome: Outcome, base_s: float, max_attempts: int
) -> str:
    """The attempt's row, and the notification's next state, in one transaction; ends the lease. Returns the state."""
    now = utcnow()
    if outcome.accepted:
        state, changes = DELIVERED, {"delivered_at": now}
    elif number >= max_attempts:
        state, changes = DEAD, {}
    else:
        state, changes = PENDING, {"next_attempt_at": now + timedelta(seconds=backoff_s(number, base_s))}
    with Notification._meta.database.atomic():
        NotificationAttempt.create(
            notification=notification_id,
            number=number,
            at=now,
            duration_ms=outcome.duration_ms,
            status=outcome.status,
            error=outcome.error,
        )
        Notification.update(
            state=state,
            attempts=number,
            lease_until=None,
            leased_by=None,
            last_status=outcome.status,
            last_error=outcome.error,
            **changes,
        ).where((Notification.id == notification_id) & (Notification.leased_by == holder)).execute()
    return state


def release(notification_ids: Sequence[str], holder: str) -> None:
    """Leases this process took but will not use (it is stopping): due again at once for any process."""
    if notification_ids:
        Notification.update(lease_until=None, leased_by=None).where(
            Notification.id.in_(list(notification_ids)) & (Notification.leased_by == holder)
        ).execute()


@dataclass(frozen=True)
class Delivery:
    notification: Notification
    attempts: list[NotificationAttempt]


def list_deliveries(target_id: str, limit: int) -> list[Delivery]:
    """A target's notifications, newest first, each with its attempts (oldest first)."""
    target = get_target(target_id)
    found = list(
        Notification.select()
        .where(Notification.target == target.id)
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(limit)
    )
    attempts: dict[str, list[NotificationAttempt]] = {n.id: [] for n in found}
    if found:
        query = NotificationAttempt.select().where(NotificationAttempt.notification.in_(list(attempts)))
        for attempt in query.order_by(NotificationAttempt.number, NotificationAttempt.id):
            attempts[attempt.notification_id].append(attempt)
    return [Delivery(n, attempts[n.id]) for n in found]
