"""``/api/v1/credentials``: shared secrets that servers refer to."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, model_validator

from app.schemas.common import Password, PrivateKeyText, RequestModel, ServerName, Timestamp

Description = Annotated[str, Field(max_length=1000)]


class CredentialCreate(RequestModel):
    """At least one of password, private_key (+ passphrase) and become_password."""

    name: ServerName
    description: Description | None = None
    password: Password | None = None
    private_key: PrivateKeyText | None = None
    passphrase: Password | None = None
    become_password: Password | None = None


class CredentialUpdate(RequestModel):
    """Partial update: only the fields present change; ``null`` clears a secret."""

    name: ServerName | None = None
    description: Description | None = None
    password: Password | None = None
    private_key: PrivateKeyText | None = None
    passphrase: Password | None = None
    become_password: Password | None = None

    @model_validator(mode="after")
    def _name_not_null(self) -> CredentialUpdate:
        if "name" in self.model_fields_set and self.name is None:
            raise ValueError("name: may not be null")
        return self


class CredentialOut(BaseModel):
    id: str
    name: str
    description: str | None
    has_password: bool
    has_private_key: bool
    has_passphrase: bool
    has_become_password: bool
    servers: int
    created_at: Timestamp
    updated_at: Timestamp


class CredentialList(BaseModel):
    credentials: list[CredentialOut]


class CredentialDeleted(BaseModel):
    id: str
    deleted: bool
