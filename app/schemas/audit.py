"""``/api/v1/audit``: the audit trail's rows, filtered, newest first, a page at a time."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.schemas.common import QueryModel, Timestamp

AuditOutcome = Literal["success", "refused", "failed"]


class AuditQuery(QueryModel):
    actor: str | None = Field(None, max_length=255, description="Exact actor, e.g. `local:local`, `key:<id>`.")
    action: str | None = Field(None, max_length=64, description="Exact action, e.g. `server.create`, `job.cancel`.")
    object_type: str | None = Field(None, max_length=32, description="e.g. `server`, `credential`, `job`, `batch`.")
    object_id: str | None = Field(None, max_length=255, description="The object's id (a server's, a job's...).")
    since: datetime | None = Field(None, description="Rows at or after this time (RFC 3339; no zone: UTC).")
    until: datetime | None = Field(None, description="Rows before this time (RFC 3339; no zone: UTC).")
    outcome: AuditOutcome | None = Field(
        None, description="success (2xx), refused (4xx: invalid, not found, conflict, 401), failed (5xx)."
    )
    cursor: str | None = Field(
        None, max_length=64, description="`next_cursor` of the previous page; absent: the newest rows."
    )
    limit: int = Field(100, ge=1, le=500, description="Rows per page, 1-500.")

    @field_validator("since", "until")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


EXAMPLE_EVENT: Final[dict[str, Any]] = {
    "id": 42,
    "at": "2026-12-05T07:30:00.000Z",
    "actor": "key:0b5f3c2e-1d4a-4f7e-9a53-2c8f1e6d7b90",
    "actor_kind": "key",
    "key_id": "0b5f3c2e-1d4a-4f7e-9a53-2c8f1e6d7b90",
    "user_id": None,
    "action": "server.update",
    "object_type": "server",
    "object_id": "5d1c8f0a-3b2e-4c6d-8e9f-0a1b2c3d4e5f",
    "summary": {"hostname": "10.0.0.7", "password": "(changed)"},
    "source": "10.0.0.12",
    "request_id": "req-6f1d0c5b9a8e4d3c2b1a0f9e8d7c6b5a",
    "outcome": "success",
    "status": 200,
}


class AuditEventOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE_EVENT]})

    id: int
    at: Timestamp
    actor: str = Field(description="`kind:name`: `local:local`, `key:<key id>`, `cli:<os user>`; `unknown` on a 401.")
    actor_kind: str
    key_id: str | None
    user_id: str | None
    action: str
    object_type: str | None
    object_id: str | None
    summary: dict[str, Any] | None = Field(
        description='The fields the request gave; secrets only as "(set)" or "(changed)", never a value.'
    )
    source: str | None = Field(description="The client's address (as a trusted proxy forwarded it, if any).")
    request_id: str | None
    outcome: AuditOutcome
    status: int | None = Field(description="The HTTP status answered (null for admin commands).")


class AuditPage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"events": [EXAMPLE_EVENT], "next_cursor": "NDI"}]})

    events: list[AuditEventOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next (older) page; null on the last.")
