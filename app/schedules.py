"""Schedules: a template launched on a cron expression (app/cron.py), stored, and each tick claimed exactly once.

A tick is claimed through the database: the process that moves ``next_run_at`` on by compare-and-set (the
``UPDATE ... WHERE next_run_at = <the due time read>`` that changes one row) records the run, UNIQUE on
(schedule, due time), and launches the template, all in one transaction. Another process reading the same due
time changes no row and does nothing. A launch that is refused (template deleted, target gone, a value now
invalid) is a run of outcome ``failed`` with the reason, never silent. Functions run in a database thread.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal

import peewee as pw

from app import cron
from app.clock import utcnow
from app.errors import Conflict, InvalidInput, NewRemoraError, NotFound
from app.jobstates import ACTIVE
from app.launch_owner import Grant, OutOfScope, OwnerDisabled, check_in_scope, visible_at_fire
from app.models import Job, Schedule, ScheduleRun
from app.scopes import Visible
from app.template_params import convert_values, secrets_of
from app.templates import Launched, definition_of, get_template, launch_template, parameters_of
from app.vault import Vault

log = logging.getLogger(__name__)

Overlap = Literal["skip", "queue"]
Missed = Literal["run_once", "skip"]
Outcome = Literal["launched", "skipped_overlap", "skipped_missed", "failed"]
OVERLAPS: Final[tuple[Overlap, ...]] = ("skip", "queue")
MISSEDS: Final[tuple[Missed, ...]] = ("run_once", "skip")
# A single tick this late still fires as itself; later, or with another tick due after it, the process(es) were
# down and the missed-run policy decides.
LATE_GRACE: Final = timedelta(seconds=30)


@dataclass(frozen=True)
class Fired:
    schedule_id: str
    outcome: Outcome
    launched: Launched | None


def get_schedule(schedule_id_or_name: str, visible: Visible = None) -> Schedule:
    """By id or name; a schedule is visible iff its template is (a deleted template: only to an unlimited caller)."""
    schedule = Schedule.get_or_none((Schedule.id == schedule_id_or_name) | (Schedule.name == schedule_id_or_name))
    if schedule is None:
        raise NotFound("Schedule not found")
    if visible is not None:
        try:
            get_template(str(schedule.template_id), visible)
        except NotFound as exc:
            raise NotFound("Schedule not found") from exc
    return schedule


def list_schedules(visible: Visible = None) -> list[Schedule]:
    found = []
    for schedule in Schedule.select().order_by(Schedule.name):
        try:
            found.append(get_schedule(str(schedule.id), visible))
        except NotFound:
            continue
    return found


def _stored_values(template_id: str, values: Mapping[str, object], vault: Vault) -> tuple[str, str | None]:
    """Values checked against the template's parameters now (InvalidInput names a bad one); the secret ones apart,
    encrypted."""
    parameters = parameters_of(definition_of(get_template(template_id)))
    converted = convert_values(parameters, values)
    secrets = secrets_of(parameters, converted)
    # As converted ("7" given is 7 stored); defaults left to each launch, which takes the template's then.
    plain = {name: value for name, value in converted.items() if name in values and name not in secrets}
    return json.dumps(plain), vault.encrypt(json.dumps(secrets)) if secrets else None


def values_of(schedule: Schedule, vault: Vault) -> dict[str, object]:
    values: dict[str, object] = json.loads(schedule.parameters)
    if schedule.secret_parameters_enc:
        values.update(json.loads(vault.decrypt(schedule.secret_parameters_enc)))
    return values


@dataclass(frozen=True)
class ScheduleFields:
    name: str
    template: str
    cron: str
    timezone: str = "UTC"
    enabled: bool = True
    overlap: Overlap = "skip"
    missed: Missed = "run_once"
    parameters: Mapping[str, object] | None = None


def _check_policies(overlap: str, missed: str) -> None:
    if overlap not in OVERLAPS:
        raise InvalidInput(f"overlap: must be one of {', '.join(OVERLAPS)}")
    if missed not in MISSEDS:
        raise InvalidInput(f"missed: must be one of {', '.join(MISSEDS)}")


def create_schedule(
    fields: ScheduleFields,
    vault: Vault,
    actor: str,
    owner_user_id: str | None,
    visible: Visible = None,
    grant_scope: str | None = None,
) -> Schedule:
    """``owner_user_id`` and ``grant_scope`` (app/launch_owner.py ``Grant``): each tick launches within them."""
    spec = cron.parse(fields.cron, fields.timezone)
    _check_policies(fields.overlap, fields.missed)
    with Schedule._meta.database.atomic():
        template = get_template(fields.template, visible)
        plain, secret = _stored_values(str(template.id), fields.parameters or {}, vault)
        if Schedule.select().where(Schedule.name == fields.name).exists():
            raise Conflict(f"name: a schedule named {fields.name!r} exists")
        try:
            return Schedule.create(
                name=fields.name,
                template_id=template.id,
                parameters=plain,
                secret_parameters_enc=secret,
                cron=spec.expression,
                timezone=spec.timezone,
                enabled=fields.enabled,
                overlap=fields.overlap,
                missed=fields.missed,
                next_run_at=cron.next_after(spec, utcnow()) if fields.enabled else None,
                owner_user_id=owner_user_id,
                grant_scope=grant_scope,
                created_by=actor,
                updated_by=actor,
            )
        except pw.IntegrityError as exc:
            raise Conflict(f"name: a schedule named {fields.name!r} exists") from exc


def update_schedule(
    schedule_id: str,
    changes: Mapping[str, object],
    vault: Vault,
    actor: str,
    visible: Visible = None,
    grant: Grant | None = None,
) -> Schedule:
    """Only the fields given change. A new expression, zone or an enabling counts from now: ticks passed while
    disabled are not missed runs. With ``grant``, its principal owns the schedule now: whoever last saved it is who
    its ticks launch as (a caller cannot lend their change a wider owner's scope)."""
    with Schedule._meta.database.atomic():
        schedule = get_schedule(schedule_id, visible)
        if "template" in changes:
            schedule.template_id = get_template(str(changes["template"]), visible).id
        for name in ("name", "cron", "timezone", "enabled", "overlap", "missed"):
            if name in changes and changes[name] is not None:
                setattr(schedule, name, changes[name])
        spec = cron.parse(str(schedule.cron), str(schedule.timezone))
        _check_policies(str(schedule.overlap), str(schedule.missed))
        if "parameters" in changes or "template" in changes:
            given = changes.get("parameters")
            values = dict(given) if isinstance(given, Mapping) else values_of(schedule, vault)
            schedule.parameters, schedule.secret_parameters_enc = _stored_values(
                str(schedule.template_id), values, vault
            )
        timing = {"cron", "timezone", "enabled"} & set(changes)
        if not schedule.enabled:
            schedule.next_run_at = None
        elif timing or schedule.next_run_at is None:
            schedule.next_run_at = cron.next_after(spec, utcnow())
        schedule.updated_at = utcnow()
        schedule.updated_by = actor
        if grant is not None:
            schedule.owner_user_id, schedule.grant_scope = grant.owner_user_id, grant.scope
        if Schedule.select().where((Schedule.name == schedule.name) & (Schedule.id != schedule.id)).exists():
            raise Conflict(f"name: a schedule named {schedule.name!r} exists")
        schedule.save()
    return schedule


def delete_schedule(schedule_id: str, visible: Visible = None) -> Schedule:
    with Schedule._meta.database.atomic():
        schedule = get_schedule(schedule_id, visible)
        ScheduleRun.delete().where(ScheduleRun.schedule_id == schedule.id).execute()
        schedule.delete_instance()
    return schedule


def runs_of(schedule_id: str, visible: Visible = None, limit: int = 50) -> list[ScheduleRun]:
    schedule = get_schedule(schedule_id, visible)
    return list(
        ScheduleRun.select()
        .where(ScheduleRun.schedule_id == schedule.id)
        .order_by(ScheduleRun.due_at.desc())
        .limit(limit)
    )


def last_run(schedule_id: str) -> ScheduleRun | None:
    found: ScheduleRun | None = (
        ScheduleRun.select().where(ScheduleRun.schedule_id == schedule_id).order_by(ScheduleRun.due_at.desc()).first()
    )
    return found


def _previous_still_active(schedule_id: str) -> bool:
    previous = (
        ScheduleRun.select()
        .where((ScheduleRun.schedule_id == schedule_id) & (ScheduleRun.outcome == "launched"))
        .order_by(ScheduleRun.due_at.desc())
        .first()
    )
    if previous is None or previous.job_id is None:
        return False
    mine = Job.batch_id == previous.batch_id if previous.batch_id else Job.id == previous.job_id
    return bool(Job.select().where(mine & Job.status.in_(ACTIVE)).exists())


def _owner_visible(schedule: Schedule) -> Visible:
    """The servers a tick may reach: within its saver's grant and its owner's scope now (OwnerDisabled)."""
    return visible_at_fire(Grant(schedule.owner_user_id, schedule.grant_scope))


def due_schedules(now: datetime) -> list[tuple[str, datetime]]:
    query = Schedule.select(Schedule.id, Schedule.next_run_at).where(Schedule.enabled & (Schedule.next_run_at <= now))
    return [(str(one.id), one.next_run_at) for one in query]


def next_due() -> datetime | None:
    found: datetime | None = Schedule.select(pw.fn.MIN(Schedule.next_run_at)).where(Schedule.enabled).scalar()
    return found


def fire(schedule_id: str, due: datetime, now: datetime, vault: Vault, max_timeout: int) -> Fired | None:
    """Claim the tick due at ``due`` and act on it, in one transaction; None when another process claimed it."""
    database = Schedule._meta.database
    with database.atomic():
        schedule = Schedule.get_or_none(Schedule.id == schedule_id)
        if schedule is None or not schedule.enabled or schedule.next_run_at != due:
            return None
        spec = cron.parse(str(schedule.cron), str(schedule.timezone))
        count, last = cron.due_between(spec, due, now)
        claimed = (
            Schedule.update(next_run_at=cron.next_after(spec, now))
            .where((Schedule.id == schedule_id) & (Schedule.next_run_at == due) & Schedule.enabled)
            .execute()
        )
        if claimed != 1:
            return None
        missed = count > 1 or now - due > LATE_GRACE
        outcome: Outcome = "launched"
        message: str | None = None
        launched: Launched | None = None
        if missed:
            message = f"{count} tick(s) missed from {due.isoformat()} to {last.isoformat()}"
            if schedule.missed == "skip":
                outcome = "skipped_missed"
            else:
                message = f"catch-up: {message}"
        visible: Visible = None
        refused: str | None = None
        if outcome == "launched":
            try:
                visible = _owner_visible(schedule)
                check_in_scope(str(schedule.template_id), visible)
            except OwnerDisabled as exc:
                refused = f"not launched: {exc}"
            except OutOfScope as exc:
                refused = f"launch refused: {exc} ({', '.join(exc.servers)})"
            except NotFound as exc:
                refused = f"launch refused: {exc}"
        if outcome == "launched" and refused is not None:
            outcome, message = "failed", refused
        elif outcome == "launched" and schedule.overlap == "skip" and _previous_still_active(schedule_id):
            outcome, message = "skipped_overlap", "the previous launch's jobs are still active"
        if outcome == "launched":
            try:
                # A savepoint: a refused launch undoes its own inserts only; the claim and its run stay.
                with database.atomic():
                    launched = launch_template(
                        str(schedule.template_id),
                        values_of(schedule, vault),
                        vault=vault,
                        max_timeout=max_timeout,
                        submitted_by=f"schedule:{schedule_id}",
                        visible=visible,
                    )
            except NewRemoraError as exc:
                outcome, message = "failed", f"launch refused: {exc}"
        ScheduleRun.create(
            schedule_id=schedule_id,
            due_at=last if missed else due,
            fired_at=now,
            outcome=outcome,
            message=message,
            job_id=launched.jobs[0].id if launched and launched.jobs else None,
            batch_id=launched.batch_id if launched else None,
            job_count=len(launched.jobs) if launched else 0,
        )
    return Fired(schedule_id, outcome, launched)


def fire_due(vault: Vault, max_timeout: int, now: datetime | None = None) -> list[Fired]:
    """Every tick due now, each claimed in its own transaction (one failing leaves the others)."""
    moment = now or utcnow()
    fired: list[Fired] = []
    for schedule_id, due in due_schedules(moment):
        try:
            done = fire(schedule_id, due, moment, vault, max_timeout)
        except pw.IntegrityError:
            done = None  # the same tick recorded by another process between our read and our insert
        if done is not None:
            fired.append(done)
    return fired
