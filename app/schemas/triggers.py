"""``/api/v1/templates/:id/triggers``, ``/api/v1/triggers/:id`` and ``POST /hooks/:id``: signed triggers."""

from __future__ import annotations

from typing import Annotated, Any, Final

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from app.schemas.common import RequestModel, Timestamp
from app.validators import check_body_path

TriggerName = Annotated[str, Field(min_length=1, max_length=100)]
ParameterName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")]
BodyPath = Annotated[str, AfterValidator(check_body_path)]
Mapping = Annotated[dict[ParameterName, BodyPath], Field(max_length=100)]
RateLimit = Annotated[int, Field(ge=1, le=600)]

MAPPING_DOC: Final = (
    "Parameter name → path of a field in the request's JSON body: dot-separated keys, a number for a list's item "
    "(``repository.name``, ``commits.0.id``). A parameter left out takes the body's top-level field of its own name."
)
EXAMPLE_ID: Final = "5b0c7e52-8f0a-4c1e-9d43-6a2f1b7c9e10"
EXAMPLE_TEMPLATE_ID: Final = "0d9e4c1a-3b7f-4e2a-8c61-9f5a2b7d4e38"
EXAMPLE_SECRET: Final = "nrwh_3q2Zl0m8Qy9XkC4fV1tR7uN6bH5jD2sA0pE8gW4iK1o"  # noqa: S105  # an example, not a secret
EXAMPLE_TRIGGER: Final[dict[str, Any]] = {
    "id": EXAMPLE_ID,
    "template_id": EXAMPLE_TEMPLATE_ID,
    "name": "deploy on push",
    "enabled": True,
    "mapping": {"version": "release.tag_name"},
    "rate_limit": 10,
    "path": f"/hooks/{EXAMPLE_ID}",
    "url": f"https://newremora.example.com/hooks/{EXAMPLE_ID}",
    "created_at": "2026-12-05T07:30:00.000Z",
    "created_by": "user:alice",
    "rotated_at": None,
    "last_used_at": "2026-12-05T09:12:44.210Z",
}


class TriggerCreate(RequestModel):
    """A new trigger of the template; its secret is made by the service and shown in the answer only."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"name": "deploy on push", "mapping": {"version": "release.tag_name"}, "rate_limit": 10}]
        }
    )

    name: TriggerName = Field("webhook", description="A label for people.", examples=["deploy on push"])
    enabled: bool = Field(True, description="A disabled trigger refuses every request (403).", examples=[True])
    mapping: Mapping = Field(default_factory=dict, description=MAPPING_DOC, examples=[{"version": "release.tag_name"}])
    rate_limit: RateLimit = Field(
        10, description="Accepted requests a minute, across all processes (429 with Retry-After beyond).", examples=[10]
    )


class TriggerUpdate(RequestModel):
    """Partial update: only the fields present change. The secret changes only by rotating it."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"enabled": False}, {"rate_limit": 30}]})

    name: TriggerName | None = Field(None, description="A label for people.", examples=["deploy on push"])
    enabled: bool | None = Field(None, description="A disabled trigger refuses every request (403).", examples=[False])
    mapping: Mapping | None = Field(None, description=MAPPING_DOC, examples=[{"version": "release.tag_name"}])
    rate_limit: RateLimit | None = Field(None, description="Accepted requests a minute.", examples=[30])

    @model_validator(mode="after")
    def _not_null(self) -> TriggerUpdate:
        for name in self.model_fields_set:
            if getattr(self, name) is None:
                raise ValueError(f"{name}: may not be null")
        return self


class TriggerOut(BaseModel):
    """A trigger, never its secret."""

    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE_TRIGGER]})

    id: str = Field(description="The trigger's id, part of its URL.", examples=[EXAMPLE_ID])
    template_id: str = Field(description="The template it launches.", examples=[EXAMPLE_TEMPLATE_ID])
    name: str = Field(description="A label for people.", examples=["deploy on push"])
    enabled: bool = Field(description="A disabled trigger refuses every request (403).", examples=[True])
    mapping: dict[str, str] = Field(description=MAPPING_DOC, examples=[{"version": "release.tag_name"}])
    rate_limit: int = Field(description="Accepted requests a minute.", examples=[10])
    path: str = Field(description="Where senders POST, on this service.", examples=[f"/hooks/{EXAMPLE_ID}"])
    url: str = Field(
        description="The same as a full URL, as this request reached the service (behind a proxy: as the proxy "
        "forwarded it).",
        examples=[f"https://newremora.example.com/hooks/{EXAMPLE_ID}"],
    )
    created_at: Timestamp = Field(examples=["2026-12-05T07:30:00.000Z"])
    created_by: str = Field(description="Who created it (an audit actor).", examples=["user:alice"])
    rotated_at: Timestamp | None = Field(description="When its secret last changed.", examples=[None])
    last_used_at: Timestamp | None = Field(
        description="When it last accepted a request.", examples=["2026-12-05T09:12:44.210Z"]
    )


class NewTriggerOut(TriggerOut):
    """A trigger with its secret, in the answer to create and rotate only: keep it now, it is never shown again."""

    model_config = ConfigDict(json_schema_extra={"examples": [{**EXAMPLE_TRIGGER, "secret": EXAMPLE_SECRET}]})

    secret: str = Field(
        description="The HMAC-SHA256 key of the signature (its UTF-8 bytes): shown once.", examples=[EXAMPLE_SECRET]
    )


class TriggerList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"triggers": [EXAMPLE_TRIGGER]}]})

    triggers: list[TriggerOut] = Field(description="The template's triggers, oldest first.")


class TriggerDeleted(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"id": EXAMPLE_ID, "deleted": True}]})

    id: str = Field(examples=[EXAMPLE_ID])
    deleted: bool = Field(description="Always true: its URL refuses every request from now on.", examples=[True])


class HookLaunched(BaseModel):
    """What a signed request launched."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "trigger_id": EXAMPLE_ID,
                    "template_id": EXAMPLE_TEMPLATE_ID,
                    "template_version": 3,
                    "job_ids": ["8a1f0c6e-2b4d-4e9a-b7c3-5d6e1f2a3b4c"],
                    "batch_id": None,
                }
            ]
        }
    )

    trigger_id: str = Field(examples=[EXAMPLE_ID])
    template_id: str = Field(examples=[EXAMPLE_TEMPLATE_ID])
    template_version: int = Field(description="The template's version the jobs were made from.", examples=[3])
    job_ids: list[str] = Field(description="The jobs launched, one per target server.")
    batch_id: str | None = Field(description="Their batch, when the template has several targets.", examples=[None])


class HookBody(BaseModel):
    """Any JSON object (or an empty body): its fields map to the template's parameters (the trigger's mapping)."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={"examples": [{"version": "1.2.3"}, {"release": {"tag_name": "v1.2.3"}}]},
    )


class HookHeaders(BaseModel):
    """The signature: the HMAC-SHA256 of ``"<timestamp>.<raw body>"``, the trigger's secret as key."""

    x_hub_signature_256: str = Field(
        description="sha256=<hex digest>", examples=["sha256=" + "5d41402abc4b2a76b9719d911017c592" * 2]
    )
    x_newremora_timestamp: str = Field(
        description="Unix seconds when signed; within 300 s of the service's clock.", examples=["1764921600"]
    )
    x_newremora_delivery: str | None = Field(
        None,
        description="Optional: an id of this delivery, the same on each retry (1-128 of A-Z a-z 0-9 . _ : -); "
        "a second request with it is refused as a replay.",
        examples=["72d3162e-cc78-11e3-81ab-4c9367dc0958"],
    )
