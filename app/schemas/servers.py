"""``/api/v1/servers``: servers, PEM uploads and connectivity checks."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, model_validator

from app.schemas.common import (
    GroupName,
    LoginName,
    Password,
    PrivateKeyText,
    QueryModel,
    RequestModel,
    ServerName,
    Timestamp,
)
from app.validators import check_hostname, check_interpreter

Hostname = Annotated[str, Field(min_length=1, max_length=253), AfterValidator(check_hostname)]
Port = Annotated[int, Field(ge=1, le=65535)]
AuthType = Literal["password", "key"]
GroupNames = Annotated[list[GroupName], Field(max_length=100)]
Interpreter = Annotated[str, Field(max_length=255), AfterValidator(check_interpreter)]


class ServerCreate(RequestModel):
    name: ServerName
    hostname: Hostname
    port: Port = 22
    user: LoginName
    auth_type: AuthType
    password: Password | None = None
    private_key: PrivateKeyText | None = None
    passphrase: Password | None = None
    pem_file_url: str | None = Field(default=None, max_length=200)
    is_active: bool = True
    # Secrets the server does not carry itself come from this credential.
    credential_id: str | None = None
    groups: GroupNames = Field(default_factory=list)
    become: bool = False
    become_user: LoginName | None = None
    become_password: Password | None = None
    python_interpreter: Interpreter | None = None

    @model_validator(mode="after")
    def _secret_for_auth_type(self) -> ServerCreate:
        if self.credential_id is None:
            if self.auth_type == "password" and self.password is None:
                raise ValueError("password: required when auth_type is 'password' (or give credential_id)")
            if self.auth_type == "key" and self.private_key is None and self.pem_file_url is None:
                raise ValueError(
                    "private_key: required when auth_type is 'key' (or give pem_file_url or credential_id)"
                )
        if self.private_key is not None and self.pem_file_url is not None:
            raise ValueError("pem_file_url: give either private_key or pem_file_url, not both")
        return self


class ServerUpdate(RequestModel):
    """Partial update: only the fields present change; ``null`` clears a secret."""

    name: ServerName | None = None
    hostname: Hostname | None = None
    port: Port | None = None
    user: LoginName | None = None
    auth_type: AuthType | None = None
    password: Password | None = None
    private_key: PrivateKeyText | None = None
    passphrase: Password | None = None
    pem_file_url: str | None = Field(default=None, max_length=200)
    is_active: bool | None = None
    credential_id: str | None = None
    groups: GroupNames | None = None
    become: bool | None = None
    become_user: LoginName | None = None
    become_password: Password | None = None
    python_interpreter: Interpreter | None = None

    @model_validator(mode="after")
    def _required_fields_not_null(self) -> ServerUpdate:
        for name in ("name", "hostname", "port", "user", "auth_type", "is_active", "groups", "become"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name}: may not be null")
        if self.private_key is not None and self.pem_file_url is not None:
            raise ValueError("pem_file_url: give either private_key or pem_file_url, not both")
        return self


class ServerOut(BaseModel):
    id: str
    name: str
    hostname: str
    port: int
    user: str
    auth_type: str
    is_active: bool
    has_password: bool
    has_private_key: bool
    has_passphrase: bool
    pem_file_url: str | None
    host_key_fingerprint: str | None
    credential_id: str | None
    groups: list[str]
    become: bool
    become_user: str | None
    has_become_password: bool
    python_interpreter: str | None
    created_at: Timestamp
    updated_at: Timestamp
    # What the last contact (a check, or a job's connection) showed; null until the first one.
    last_status: str | None  # connected | disconnected
    last_checked_at: Timestamp | None
    last_response_time_ms: int | None
    last_message: str | None


class ServerList(BaseModel):
    servers: list[ServerOut]


class ServerListQuery(QueryModel):
    active_only: bool = False


class ServerDeleteQuery(QueryModel):
    force: bool = False


class ServerDeleted(BaseModel):
    id: str
    deleted: bool
    deleted_jobs: int


class PemUploadForm(BaseModel):
    """multipart/form-data with the key file in the field ``pem_file`` (64 KiB at most)."""

    pem_file: bytes


class PemUploaded(BaseModel):
    filename: str
    url: str
    size: int
    encrypted: bool
    fingerprint: str | None
    uploaded_at: Timestamp


class ServerTest(BaseModel):
    server_id: str
    status: Literal["connected", "disconnected"]
    response_time_ms: int | None
    test_command: str
    test_output: str | None
    message: str
    failure_reason: str | None
    timestamp: Timestamp


class ServerCheck(BaseModel):
    server_id: str
    name: str
    status: Literal["connected", "disconnected"]
    response_time_ms: int | None
    message: str
    failure_reason: str | None = Field(
        default=None,
        description="Why the server is disconnected, as a job's failure_reason says it (unreachable, auth_failed, "
        "host_key_mismatch, secret_unreadable, ...); null when connected.",
        examples=["host_key_mismatch"],
    )


class CheckSummary(BaseModel):
    total_checked: int
    connected: int
    disconnected: int
    check_duration_ms: int


class CheckStatus(BaseModel):
    servers: list[ServerCheck]
    summary: CheckSummary


class CheckStatusQuery(QueryModel):
    active_only: bool = False
