"""``/api/v1/schedules``: a template launched on a cron expression in a time zone (docs/orchestration.md)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from app.schemas.common import RequestModel, Timestamp

Name = Annotated[str, Field(min_length=1, max_length=100, examples=["nightly-logrotate"])]
Cron = Annotated[
    str,
    Field(
        min_length=1,
        max_length=120,
        description="5 fields (minute hour day month weekday), or 6 with a leading seconds field",
        examples=["30 2 * * *"],
    ),
]
TimeZone = Annotated[str, Field(min_length=1, max_length=64, description="An IANA name", examples=["Europe/Berlin"])]
Overlap = Annotated[
    Literal["skip", "queue"],
    Field(description="skip: no launch while the previous launch's jobs are active; queue: launch anyway"),
]
Missed = Annotated[
    Literal["run_once", "skip"],
    Field(description="After downtime: run_once launches once for all the ticks missed; skip launches none"),
]
Values = Annotated[
    dict[str, Any],
    Field(
        description="The launch's parameter values (secret ones are stored encrypted, never returned)",
        examples=[{"keep_days": 7}],
    ),
]


class ScheduleCreate(RequestModel):
    name: Name
    template: Annotated[str, Field(max_length=100, description="The template's id or name", examples=["logrotate"])]
    cron: Cron
    timezone: TimeZone = "UTC"
    enabled: bool = True
    overlap: Overlap = "skip"
    missed: Missed = "run_once"
    parameters: Values = Field(default_factory=dict)


class ScheduleUpdate(RequestModel):
    """Only the fields given change; a new cron, time zone or enabling counts from now."""

    name: Name | None = None
    template: Annotated[str, Field(max_length=100)] | None = None
    cron: Cron | None = None
    timezone: TimeZone | None = None
    enabled: bool | None = None
    overlap: Overlap | None = None
    missed: Missed | None = None
    parameters: Values | None = None


class ScheduleRunOut(BaseModel):
    due_at: Timestamp
    fired_at: Timestamp
    outcome: Annotated[Literal["launched", "skipped_overlap", "skipped_missed", "failed"], Field(examples=["launched"])]
    message: str | None
    job_id: str | None
    batch_id: str | None
    job_count: int


class ScheduleOut(BaseModel):
    id: str
    name: str
    template_id: str
    cron: str
    timezone: str
    enabled: bool
    overlap: str
    missed: str
    parameters: Annotated[dict[str, Any], Field(description="Values given; each secret one as ********")]
    next_run_at: Timestamp | None
    next_runs: Annotated[list[Timestamp], Field(description="The next 5 ticks (none while disabled)")]
    last_run: ScheduleRunOut | None
    created_by: str | None
    created_at: Timestamp
    updated_at: Timestamp


class ScheduleList(BaseModel):
    schedules: list[ScheduleOut]


class ScheduleRuns(BaseModel):
    runs: list[ScheduleRunOut]


class ScheduleDeleted(BaseModel):
    id: str
    deleted: bool
