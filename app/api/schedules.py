"""``/api/v1/schedules``: templates launched on cron expressions (app/schedules.py); viewers read, operators manage.
A schedule is visible iff its template is (the caller's scope)."""

from __future__ import annotations

import json
from typing import Any, Final, cast

from quart import Blueprint, g
from quart_schema import tag, validate_request, validate_response

from app import cron, launch_owner, schedules
from app.api.context import current_principal, runtime, visible_servers
from app.errors import NotFound
from app.models import Schedule, ScheduleRun
from app.schemas.common import Envelope
from app.schemas.schedules import (
    ScheduleCreate,
    ScheduleDeleted,
    ScheduleList,
    ScheduleOut,
    ScheduleRunOut,
    ScheduleRuns,
    ScheduleUpdate,
)
from app.template_params import REDACTED
from app.templates import definition_of, get_template, parameters_of

blueprint = Blueprint("schedules", __name__)
TAGS: Final = ["Schedules"]


def run_out(run: ScheduleRun) -> ScheduleRunOut:
    return ScheduleRunOut(
        due_at=run.due_at,
        fired_at=run.fired_at,
        outcome=cast(schedules.Outcome, run.outcome),
        message=run.message,
        job_id=run.job_id,
        batch_id=run.batch_id,
        job_count=run.job_count,
    )


def _load_out(schedule: Schedule) -> ScheduleOut:
    """In a database thread: the schedule, its next 5 ticks and its last run; secret values only named."""
    shown: dict[str, Any] = json.loads(schedule.parameters)
    if schedule.secret_parameters_enc:
        # Which names are secret the template's definition says: shown as given, never decrypted here.
        try:
            definition = definition_of(get_template(str(schedule.template_id)))
            secret = [one.name for one in parameters_of(definition) if one.secret]
        except NotFound:  # the template is gone: its secret values stay stored, unnamed
            secret = []
        shown.update({name: REDACTED for name in secret})
    upcoming = []
    if schedule.enabled and schedule.next_run_at is not None:
        spec = cron.parse(str(schedule.cron), str(schedule.timezone))
        upcoming = [schedule.next_run_at, *cron.next_runs(spec, schedule.next_run_at, 4)]
    last = schedules.last_run(str(schedule.id))
    return ScheduleOut(
        id=schedule.id,
        name=schedule.name,
        template_id=schedule.template_id,
        cron=schedule.cron,
        timezone=schedule.timezone,
        enabled=schedule.enabled,
        overlap=schedule.overlap,
        missed=schedule.missed,
        parameters=shown,
        next_run_at=schedule.next_run_at,
        next_runs=upcoming,
        last_run=run_out(last) if last is not None else None,
        created_by=schedule.created_by,
        created_at=schedule.created_at,
        updated_at=schedule.updated_at,
    )


def _audit_summary(fields: dict[str, Any]) -> None:
    # Parameter values may be secrets: the audit row names the parameters given, never their values.
    summary = {k: v for k, v in fields.items() if k != "parameters"}
    if "parameters" in fields and fields["parameters"] is not None:
        summary["parameters"] = sorted(fields["parameters"])
    g.audit_summary = summary


@blueprint.get("")
@tag(TAGS)
@validate_response(Envelope[ScheduleList])
async def list_schedules() -> Envelope[ScheduleList]:
    """List schedules.

    Each with its next 5 runs and its last run's outcome; a caller with a scope sees those whose template it sees."""
    visible = await visible_servers()

    def load() -> list[ScheduleOut]:
        return [_load_out(one) for one in schedules.list_schedules(visible)]

    return Envelope(data=ScheduleList(schedules=await runtime().database.run(load)))


@blueprint.post("")
@tag(TAGS)
@validate_request(ScheduleCreate)
@validate_response(Envelope[ScheduleOut], 201)
async def create_schedule(data: ScheduleCreate) -> tuple[Envelope[ScheduleOut], int]:
    """Create a schedule.

    The parameter values are checked against the template's parameters now; the first tick is the next one after
    now. The creator owns it: each tick launches within the creator's scope as it is then (an API key's own scope
    within its owner's), and is recorded failed, launching nothing, while a target is outside it or the owner is
    disabled."""
    rt, principal, visible = runtime(), current_principal(), await visible_servers()
    _audit_summary(data.model_dump(mode="json"))
    fields = schedules.ScheduleFields(**data.model_dump())

    def save() -> ScheduleOut:
        grant = launch_owner.grant_of(principal)
        made = schedules.create_schedule(
            fields, rt.vault, principal.actor, grant.owner_user_id, visible, grant_scope=grant.scope
        )
        return _load_out(made)

    return Envelope(data=await rt.database.run(save)), 201


@blueprint.get("/<schedule_id>")
@tag(TAGS)
@validate_response(Envelope[ScheduleOut])
async def get_schedule(schedule_id: str) -> Envelope[ScheduleOut]:
    """One schedule, with its next 5 runs."""
    visible = await visible_servers()

    def load() -> ScheduleOut:
        return _load_out(schedules.get_schedule(schedule_id, visible))

    return Envelope(data=await runtime().database.run(load))


@blueprint.patch("/<schedule_id>")
@tag(TAGS)
@validate_request(ScheduleUpdate)
@validate_response(Envelope[ScheduleOut])
async def update_schedule(schedule_id: str, data: ScheduleUpdate) -> Envelope[ScheduleOut]:
    """Change a schedule (enable, disable, ...).

    Only the fields given change; parameters given replace all the values (checked against the template). The
    caller owns it from now on: its ticks launch within the caller's scope."""
    rt, principal, visible = runtime(), current_principal(), await visible_servers()
    changes = data.model_dump(exclude_unset=True)
    _audit_summary(data.model_dump(mode="json", exclude_unset=True))

    def save() -> ScheduleOut:
        grant = launch_owner.grant_of(principal)
        changed = schedules.update_schedule(schedule_id, changes, rt.vault, principal.actor, visible, grant)
        return _load_out(changed)

    return Envelope(data=await rt.database.run(save))


@blueprint.delete("/<schedule_id>")
@tag(TAGS)
@validate_response(Envelope[ScheduleDeleted])
async def delete_schedule(schedule_id: str) -> Envelope[ScheduleDeleted]:
    """Delete a schedule and its run history (jobs it launched stay)."""
    deleted = await runtime().database.run(schedules.delete_schedule, schedule_id, await visible_servers())
    return Envelope(data=ScheduleDeleted(id=deleted.id, deleted=True))


@blueprint.get("/<schedule_id>/runs")
@tag(TAGS)
@validate_response(Envelope[ScheduleRuns])
async def schedule_runs(schedule_id: str) -> Envelope[ScheduleRuns]:
    """A schedule's recent runs (50, newest first).

    Each claimed tick: due and fired times, outcome (launched, skipped_overlap, skipped_missed, failed) and message,
    the job or batch launched."""
    visible = await visible_servers()

    def load() -> list[ScheduleRunOut]:
        return [run_out(one) for one in schedules.runs_of(schedule_id, visible)]

    return Envelope(data=ScheduleRuns(runs=await runtime().database.run(load)))
