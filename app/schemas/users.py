"""``/api/v1/users``, ``/api/v1/keys`` and ``/api/v1/me``: people, their API keys, and who is calling."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.schemas.common import RequestModel, Timestamp

RoleName = Literal["viewer", "operator", "admin"]
Username = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9._-]*$")]
DisplayName = Annotated[str, Field(max_length=200)]
Email = Annotated[str, Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")]
KeyName = Annotated[str, Field(min_length=1, max_length=100)]


ScopeName = Annotated[str, Field(min_length=1, max_length=100)]


class ScopeIn(RequestModel):
    """Limits a user or key to these groups (with the groups nested in them, as they are at each request) and
    these servers, by name; at least one. ``null`` instead of this object: unlimited."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"groups": ["web"], "servers": ["db1"]}]})

    groups: list[ScopeName] = Field(default_factory=list, max_length=1000)
    servers: list[ScopeName] = Field(default_factory=list, max_length=1000)

    @model_validator(mode="after")
    def _not_empty(self) -> ScopeIn:
        if not self.groups and not self.servers:
            raise ValueError("scope: name at least one group or server (null: unlimited)")
        return self


class ScopeOut(BaseModel):
    """What a user or key is limited to, by name (groups and servers removed since are left out); ``within``: a
    further scope that holds too (a key's owner's)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"groups": ["web"], "servers": [], "within": None}]})

    groups: list[str]
    servers: list[str]
    within: ScopeOut | None = None


def parse_expiry(text: str) -> datetime:
    """An RFC 3339 time (a date alone: its midnight UTC), in UTC."""
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError("expected an RFC 3339 time such as 2027-01-01T00:00:00Z, or a date 2027-01-01") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


class UserCreate(RequestModel):
    """A user without a password: they use API keys (their password is set with ``newremora user
    set-password``; passwords never travel through this API)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"username": "alice", "display_name": "Alice", "role": "operator"},
                {"username": "bob", "role": "operator", "scope": {"groups": ["web"]}},
            ]
        }
    )

    username: Username
    role: RoleName
    display_name: DisplayName = ""
    email: Email | None = None
    scope: ScopeIn | None = Field(default=None, description="Groups and servers the user is limited to; null: all")


class UserUpdate(RequestModel):
    """Partial update: only the fields present change; ``email: null`` clears it. ``disabled: true`` shuts out
    every key of the user at once."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"role": "viewer"}, {"disabled": True}, {"scope": {"groups": ["web"]}}, {"scope": None}]
        }
    )

    display_name: DisplayName | None = None
    email: Email | None = None
    role: RoleName | None = None
    disabled: bool | None = None
    scope: ScopeIn | None = Field(
        default=None, description="Groups and servers the user (and every key of theirs) is limited to; null: all"
    )

    @model_validator(mode="after")
    def _no_nulls(self) -> UserUpdate:
        for name in ("display_name", "role", "disabled"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name}: may not be null")
        return self


class UserOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "5b0f2c36-1f7e-4d3a-9a51-0d8e7f6b2c11",
                    "username": "alice",
                    "display_name": "Alice",
                    "email": "alice@example.com",
                    "role": "operator",
                    "disabled": False,
                    "has_password": True,
                    "created_at": "2026-01-05T10:00:00Z",
                    "scope": {"groups": ["web"], "servers": [], "within": None},
                }
            ]
        }
    )

    id: str
    username: str
    display_name: str
    email: str | None
    role: RoleName
    disabled: bool
    has_password: bool
    created_at: Timestamp
    scope: ScopeOut | None = Field(default=None, description="What the user is limited to; null: unlimited")


class UserList(BaseModel):
    users: list[UserOut]


class KeyCreate(RequestModel):
    """A key for the caller (or, for an administrator, for ``user_id``): ``role`` narrows it below its owner's
    role, never above; ``expires_at`` ends it. The key itself is in the answer, once."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"name": "ci", "role": "operator", "expires_at": "2027-01-01T00:00:00Z"},
                {"name": "laptop"},
                {"name": "web-deploy", "scope": {"groups": ["web"]}},
            ]
        }
    )

    name: KeyName
    role: RoleName | None = None
    scope: ScopeIn | None = Field(
        default=None,
        description="Narrows the key to these groups and servers, within its owner's scope; null: the owner's",
    )
    expires_at: Annotated[str, Field(max_length=64, json_schema_extra={"format": "date-time"})] | None = None
    user_id: str | None = None

    @field_validator("expires_at")
    @classmethod
    def _rfc3339(cls, value: str | None) -> str | None:
        if value is not None:
            parse_expiry(value)
        return value

    def expiry(self) -> datetime | None:
        return None if self.expires_at is None else parse_expiry(self.expires_at)


class KeyOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "0b5f8c1e-2d3a-4f5b-8c6d-7e8f9a0b1c2d",
                    "name": "ci",
                    "prefix": "nr_AbCdEfG",
                    "user_id": "5b0f2c36-1f7e-4d3a-9a51-0d8e7f6b2c11",
                    "username": "alice",
                    "role": "operator",
                    "effective_role": "operator",
                    "created_at": "2026-01-05T10:00:00Z",
                    "expires_at": "2027-01-01T00:00:00Z",
                    "last_used_at": None,
                    "revoked_at": None,
                    "scope": None,
                }
            ]
        }
    )

    id: str
    name: str
    prefix: str  # the key's first characters, to recognise it
    user_id: str | None  # null: a key made before users existed, an administrator key
    username: str | None
    role: RoleName | None  # null: the owner's role
    effective_role: RoleName  # what it may do now: the narrower of its role and its owner's
    created_at: Timestamp
    expires_at: Timestamp | None
    last_used_at: Timestamp | None
    revoked_at: Timestamp | None
    scope: ScopeOut | None = Field(
        default=None, description="The key's own scope (it holds within its owner's too); null: the owner's"
    )


class NewKeyOut(KeyOut):
    key: str = Field(description="The key itself: shown in this answer only, never again")


class KeyList(BaseModel):
    keys: list[KeyOut]


class MeOut(BaseModel):
    """Who is calling, and what they may do: the page offers only what the role allows."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kind": "key",
                    "name": "0b5f8c1e-2d3a-4f5b-8c6d-7e8f9a0b1c2d",
                    "role": "operator",
                    "key_id": "0b5f8c1e-2d3a-4f5b-8c6d-7e8f9a0b1c2d",
                    "key_name": "ci-deploy",
                    "user": None,
                    "allowed": ["jobs.list_jobs", "jobs.create_job"],
                    "scope": {"groups": ["web"], "servers": [], "within": None},
                }
            ]
        }
    )

    kind: Literal["local", "key", "user", "oidc"]
    name: str
    role: RoleName
    key_id: str | None
    key_name: str | None = Field(default=None, description="The name the key was given (never the key itself)")
    user: UserOut | None
    allowed: list[str] = Field(description="Endpoints (blueprint.function, as in docs/access.md) the caller may call")
    scope: ScopeOut | None = Field(
        default=None,
        description="The groups and servers the caller is limited to (a key's within its owner's); null: all",
    )
