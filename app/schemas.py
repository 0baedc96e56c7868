"""Pydantic request/response models: the validation and the OpenAPI document come from here."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer, model_validator

from app.clock import rfc3339, utcnow
from app.validators import check_hostname, check_login_name, check_secret_text, check_server_name

T = TypeVar("T")

Timestamp = Annotated[datetime, PlainSerializer(rfc3339, return_type=str)]
Hostname = Annotated[str, Field(min_length=1, max_length=253), AfterValidator(check_hostname)]
LoginName = Annotated[str, AfterValidator(check_login_name)]
ServerName = Annotated[str, AfterValidator(check_server_name)]
Port = Annotated[int, Field(ge=1, le=65535)]
Password = Annotated[str, Field(min_length=1, max_length=4096), AfterValidator(check_secret_text)]
PrivateKeyText = Annotated[str, Field(min_length=1, max_length=64 * 1024)]
AuthType = Literal["password", "key"]


class RequestModel(BaseModel):
    # Unknown fields are refused: a misspelt field silently ignored is input lost.
    model_config = ConfigDict(extra="forbid", strict=True)


class QueryModel(BaseModel):
    # Query strings are text, so values are coerced ("true", "1"); unknown parameters are still refused.
    model_config = ConfigDict(extra="forbid")


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


# ----- servers -------------------------------------------------------------------------------------


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

    @model_validator(mode="after")
    def _secret_for_auth_type(self) -> ServerCreate:
        if self.auth_type == "password" and self.password is None:
            raise ValueError("password: required when auth_type is 'password'")
        if self.auth_type == "key" and self.private_key is None and self.pem_file_url is None:
            raise ValueError("private_key: required when auth_type is 'key' (or give pem_file_url)")
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

    @model_validator(mode="after")
    def _required_fields_not_null(self) -> ServerUpdate:
        for name in ("name", "hostname", "port", "user", "auth_type", "is_active"):
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
    created_at: Timestamp
    updated_at: Timestamp


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


class Health(BaseModel):
    status: Literal["healthy", "unhealthy"]
    timestamp: Timestamp
    database: Literal["connected", "disconnected"]
    queue: Literal["connected", "disconnected"]
