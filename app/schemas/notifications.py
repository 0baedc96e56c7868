"""``/api/v1/notification-targets``: outgoing webhooks on job and batch events, and their deliveries."""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from app.schemas.common import QueryModel, RequestModel, Timestamp
from app.validators import check_secret_text, check_webhook_url

EventName = Literal["job.completed", "job.failed", "job.canceled", "batch.completed", "batch.failed", "batch.canceled"]
OutputFormat = Literal["json", "slack"]
DeliveryState = Literal["pending", "delivered", "dead"]
TargetName = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f]+$")]
WebhookUrl = Annotated[str, Field(min_length=1, max_length=2000), AfterValidator(check_webhook_url)]
SigningSecret = Annotated[str, Field(min_length=16, max_length=256), AfterValidator(check_secret_text)]
Events = Annotated[list[EventName], Field(min_length=1, max_length=6)]
TemplateId = Annotated[str, Field(min_length=1, max_length=36)]

EXAMPLE_TARGET: Final[dict[str, Any]] = {
    "id": "5b8e7f3a-2c1d-4e6f-9a0b-1c2d3e4f5a6b",
    "name": "ops-alerts",
    "url": "https://hooks.example.com/newremora",
    "events": ["job.failed", "batch.failed"],
    "template_id": None,
    "format": "json",
    "enabled": True,
    "created_at": "2026-12-05T09:00:00.000Z",
    "created_by": "user:alice",
    "updated_at": "2026-12-05T09:00:00.000Z",
}


def _unique(events: list[str] | None) -> None:
    if events is not None and len(set(events)) != len(events):
        raise ValueError("events: each event once")


class TargetCreate(RequestModel):
    """A new target; ``secret`` left out: a random one, shown once in the answer."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"name": "ops-alerts", "url": "https://hooks.example.com/newremora", "events": ["job.failed"]},
                {
                    "name": "slack-deploys",
                    "url": "https://hooks.slack.com/services/T000/B000/XXXX",
                    "events": ["batch.completed", "batch.failed"],
                    "format": "slack",
                    "template_id": "0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b",
                },
            ]
        }
    )

    name: TargetName = Field(description="Unique name of the target.", examples=["ops-alerts"])
    url: WebhookUrl = Field(
        description="Where events are POSTed (http or https).", examples=["https://hooks.example.com/x"]
    )
    events: Events = Field(description="The events sent to it.", examples=[["job.failed", "batch.failed"]])
    template_id: TemplateId | None = Field(
        None, description="Only jobs launched from this template (null: every job).", examples=[None]
    )
    format: OutputFormat = Field("json", description="json: the summary; slack: {text, blocks}.", examples=["json"])
    enabled: bool = Field(True, description="false: nothing is queued for it, nor sent.", examples=[True])
    secret: SigningSecret | None = Field(
        None,
        description="HMAC-SHA256 signing secret, 16-256 characters (left out: a random one, shown once).",
        examples=[None],
    )

    @model_validator(mode="after")
    def _events_once(self) -> TargetCreate:
        _unique(list(self.events))
        return self


class TargetUpdate(RequestModel):
    """Only the fields given change; ``secret`` replaces the signing secret (it is never shown)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"enabled": False}, {"events": ["job.failed"]}]})

    name: TargetName | None = Field(None, description="Unique name of the target.", examples=["ops-alerts"])
    url: WebhookUrl | None = Field(
        None, description="Where events are POSTed.", examples=["https://hooks.example.com/x"]
    )
    events: Events | None = Field(None, description="The events sent to it.", examples=[["job.failed"]])
    template_id: TemplateId | None = Field(
        None, description="Only this template's jobs; null: every job.", examples=[None]
    )
    format: OutputFormat | None = Field(None, description="json or slack.", examples=["slack"])
    enabled: bool | None = Field(None, description="false: nothing is queued for it, nor sent.", examples=[False])
    secret: SigningSecret | None = Field(None, description="A new signing secret.", examples=[None])

    @model_validator(mode="after")
    def _not_null(self) -> TargetUpdate:
        for name in ("name", "url", "events", "format", "enabled"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name}: may not be null")
        _unique(list(self.events) if self.events is not None else None)
        return self


class TargetOut(BaseModel):
    """A target; never its secret."""

    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE_TARGET]})

    id: str = Field(description="The target's id.")
    name: str = Field(description="Unique name.")
    url: str = Field(description="Where events are POSTed.")
    events: list[str] = Field(description="The events sent to it.")
    template_id: str | None = Field(description="Only this template's jobs (null: every job).")
    format: str = Field(description="json or slack.")
    enabled: bool = Field(description="Whether events are queued and sent.")
    created_at: Timestamp = Field(description="When it was created.")
    created_by: str | None = Field(description="Who created it (an audit actor).")
    updated_at: Timestamp = Field(description="When it last changed.")


class NewTargetOut(TargetOut):
    """A new target, with its signing secret: shown in this answer only."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [EXAMPLE_TARGET | {"secret": "q4Vd0d2R5bS3l7Xh9cK1m8Zt6yW0pN2e"}]}
    )

    secret: str = Field(description="The HMAC-SHA256 signing secret; never shown again.")


class TargetList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"targets": [EXAMPLE_TARGET]}]})

    targets: list[TargetOut] = Field(description="Every target, by name.")


class TargetDeleted(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"id": EXAMPLE_TARGET["id"], "deleted": True}]})

    id: str = Field(description="The deleted target's id.")
    deleted: bool = Field(description="Always true.")


class AttemptOut(BaseModel):
    number: int = Field(description="1 for the first attempt.", examples=[1])
    at: Timestamp = Field(description="When the POST was made.")
    duration_ms: int = Field(description="How long the POST took.", examples=[12])
    status: int | None = Field(description="The receiver's HTTP status (null: no answer).", examples=[500])
    error: str | None = Field(description="Why it failed (null: accepted).", examples=["HTTP 500"])


EXAMPLE_DELIVERY: Final[dict[str, Any]] = {
    "id": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
    "event": "job.failed",
    "subject_id": "3c2b1a09-8f7e-4d6c-9b5a-4f3e2d1c0b9a",
    "idempotency_key": "1b4e28ba-2fa1-5ed2-883f-0016d3cca427",
    "state": "delivered",
    "attempts": 2,
    "next_attempt_at": "2026-12-05T09:00:05.000Z",
    "created_at": "2026-12-05T09:00:00.000Z",
    "delivered_at": "2026-12-05T09:00:05.100Z",
    "attempt_log": [
        {"number": 1, "at": "2026-12-05T09:00:00.500Z", "duration_ms": 14, "status": 500, "error": "HTTP 500"},
        {"number": 2, "at": "2026-12-05T09:00:05.080Z", "duration_ms": 9, "status": 200, "error": None},
    ],
}


class DeliveryOut(BaseModel):
    """One event for this target, and every attempt at delivering it."""

    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE_DELIVERY]})

    id: str = Field(description="The notification's id.")
    event: str = Field(description="job.failed, batch.completed, test ...", examples=["job.failed"])
    subject_id: str = Field(description="The job's or the batch's id (a random id for a test).")
    idempotency_key: str = Field(description="Sent as Idempotency-Key with every attempt.")
    state: DeliveryState = Field(description="pending (due at next_attempt_at), delivered, or dead (given up).")
    attempts: int = Field(description="Attempts so far.")
    next_attempt_at: Timestamp = Field(description="When a pending one is tried next.")
    created_at: Timestamp = Field(description="When the event was queued.")
    delivered_at: Timestamp | None = Field(description="When the receiver accepted it (a 2xx).")
    attempt_log: list[AttemptOut] = Field(description="Each attempt, oldest first.")


class DeliveryList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"deliveries": [EXAMPLE_DELIVERY]}]})

    deliveries: list[DeliveryOut] = Field(description="Newest first.")


class DeliveryQuery(QueryModel):
    limit: int = Field(50, ge=1, le=500, description="How many of the newest deliveries.", examples=[50])
