"""What every resource's models share: the request and query bases, the envelopes, pagination, and the field
types several resources use."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer, model_validator

from app.clock import rfc3339, utcnow
from app.validators import check_group_name, check_login_name, check_secret_text, check_server_name, nul_fields

T = TypeVar("T")
Timestamp = Annotated[datetime, PlainSerializer(rfc3339, return_type=str)]
LoginName = Annotated[str, AfterValidator(check_login_name)]
ServerName = Annotated[str, AfterValidator(check_server_name)]
Password = Annotated[str, Field(min_length=1, max_length=4096), AfterValidator(check_secret_text)]
PrivateKeyText = Annotated[str, Field(min_length=1, max_length=64 * 1024)]
GroupName = Annotated[str, AfterValidator(check_group_name)]


def refuse_nul(data: Any) -> Any:
    """PostgreSQL text cannot hold U+0000 and SQLite would store it: every string of every request is refused
    with a NUL, on both databases alike (400 naming the field) before any field's own checks."""
    if found := nul_fields(data):
        raise ValueError("; ".join(f"{path}: must not contain NUL characters" for path in dict.fromkeys(found)))
    return data


class RequestModel(BaseModel):
    # Unknown fields are refused: a misspelt field silently ignored is input lost.
    model_config = ConfigDict(extra="forbid", strict=True)

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        return refuse_nul(data)


class QueryModel(BaseModel):
    # Query strings are text, so values are coerced ("true", "1"); unknown parameters are still refused.
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        return refuse_nul(data)


class Envelope(BaseModel, Generic[T]):
    success: bool = True
    data: T
    error: None = None
    timestamp: Timestamp = Field(default_factory=utcnow)


class ErrorEnvelope(BaseModel):
    success: Literal[False] = False
    data: None = None
    error: str
    request_id: str
    timestamp: Timestamp = Field(default_factory=utcnow)


class Pagination(BaseModel):
    page: int
    limit: int
    total: int
    total_pages: int
    has_next: bool
    has_prev: bool
