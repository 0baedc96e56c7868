"""Pydantic request/response models: the validation and the OpenAPI document come from here."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer, model_validator

from app.clock import rfc3339, utcnow
from app.runner.extravars import check_extra_vars
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


class Health(BaseModel):
    status: Literal["healthy", "unhealthy"]
    timestamp: Timestamp
    database: Literal["connected", "disconnected"]
    queue: Literal["connected", "disconnected"]


# ----- jobs ----------------------------------------------------------------------------------------

# The job text travels base64-encoded in one argument of the remote shell, which Linux caps at 128 KiB.
MAX_JOB_TEXT = 64 * 1024
JobStatus = Literal["queued", "running", "completed", "failed", "canceled"]
ShellPath = Annotated[str, Field(pattern=r"^/[A-Za-z0-9._/+-]{1,255}$", max_length=256)]
Priority = Annotated[int, Field(ge=1, le=10)]
JobTimeout = Annotated[int, Field(ge=1)]


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


JobText = Annotated[str, Field(max_length=MAX_JOB_TEXT), AfterValidator(_no_nul)]


class JobCreate(RequestModel):
    command: Annotated[JobText, Field(min_length=1)]
    args: JobText | None = None
    server_id: str
    timeout: JobTimeout = 300
    priority: Priority = 5

    @model_validator(mode="after")
    def _fits(self) -> JobCreate:
        if len((self.command + " " + (self.args or "")).encode()) > MAX_JOB_TEXT:
            raise ValueError(f"args: command and args together may be {MAX_JOB_TEXT} bytes at most")
        if not self.command.strip():
            raise ValueError("command: must not be blank")
        return self


class ScriptJobCreate(RequestModel):
    script: Annotated[JobText, Field(min_length=1)]
    server_id: str
    timeout: JobTimeout = 300
    shell: ShellPath = "/bin/bash"
    priority: Priority = 5

    @model_validator(mode="after")
    def _fits(self) -> ScriptJobCreate:
        if len(self.script.encode()) > MAX_JOB_TEXT:
            raise ValueError(f"script: {MAX_JOB_TEXT} bytes at most")
        return self


def _extra_vars(value: dict[str, Any]) -> dict[str, Any]:
    return check_extra_vars(value)


ExtraVars = Annotated[dict[str, Any], AfterValidator(_extra_vars)]
MAX_BATCH_SERVERS = 500


class PlaybookJobCreate(RequestModel):
    """A playbook of the playbook directory, by file name, on one server or several (one job each)."""

    playbook: Annotated[str, Field(min_length=1, max_length=255)]
    server_id: str | None = None
    server_ids: Annotated[list[str], Field(min_length=1, max_length=MAX_BATCH_SERVERS)] | None = None
    extra_vars: ExtraVars | None = None
    timeout: JobTimeout = 1800
    priority: Priority = 5

    @model_validator(mode="after")
    def _one_target(self) -> PlaybookJobCreate:
        if (self.server_id is None) == (self.server_ids is None):
            raise ValueError("server_id: give either server_id or server_ids")
        return self


class JobDuplicate(RequestModel):
    server_id: str | None = None
    timeout: JobTimeout | None = None
    priority: Priority | None = None
    command: Annotated[JobText, Field(min_length=1)] | None = None
    args: JobText | None = None
    script: Annotated[JobText, Field(min_length=1)] | None = None
    shell: ShellPath | None = None


class JobServer(BaseModel):
    id: str
    name: str
    hostname: str


class JobOut(BaseModel):
    id: str
    kind: str
    command: str | None
    args: str | None
    script: str | None
    shell: str | None
    playbook: str | None
    extra_vars: dict[str, Any] | None
    status: JobStatus
    server_id: str
    server: JobServer
    priority: int
    timeout: int
    exit_code: int | None
    error: str | None
    failure_reason: str | None
    created_at: Timestamp
    started_at: Timestamp | None
    finished_at: Timestamp | None
    cancel_requested_at: Timestamp | None
    canceled_at: Timestamp | None
    output_bytes: int
    output_truncated: bool
    batch_id: str | None


class JobDetail(JobOut):
    # null when asked for without them (?include_output=false)
    output: str | None
    stdout: str | None
    stderr: str | None


class JobDetailQuery(QueryModel):
    include_output: bool = True


class JobBatch(BaseModel):
    batch_id: str
    jobs: list[JobOut]


class TaskResult(BaseModel):
    """One task's result on one host, as the `task` events of the job's stream carry it."""

    id: int
    host: str
    play: str
    task: str
    action: str
    status: Literal["ok", "changed", "failed", "skipped", "unreachable"]
    changed: bool
    ignored: bool
    rc: int | None
    msg: str
    stdout: str
    stderr: str


class TaskResultList(BaseModel):
    tasks: list[TaskResult]


class PlaybookInfo(BaseModel):
    name: str
    size: int


class PlaybookList(BaseModel):
    playbooks: list[PlaybookInfo]


class Pagination(BaseModel):
    page: int
    limit: int
    total: int
    total_pages: int
    has_next: bool
    has_prev: bool


class JobList(BaseModel):
    jobs: list[JobOut]
    pagination: Pagination


class JobListQuery(QueryModel):
    page: Annotated[int, Field(ge=1, le=1_000_000_000)] = 1
    limit: Annotated[int, Field(ge=1, le=100)] = 20
    status: JobStatus | None = None
    server_id: str | None = None
    search: Annotated[str, Field(max_length=200)] | None = None
    sort_by: Literal["created_at", "started_at", "finished_at"] = "created_at"
    sort_order: Literal["asc", "desc"] = "desc"


class JobCanceled(BaseModel):
    id: str
    status: JobStatus
    canceled_at: Timestamp | None
    cancel_requested_at: Timestamp | None


class OriginalJob(BaseModel):
    id: str
    kind: str
    command: str | None


class JobDuplicated(BaseModel):
    original_job: OriginalJob
    new_job: JobOut


# ----- connectivity --------------------------------------------------------------------------------


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


# ----- system --------------------------------------------------------------------------------------


class SystemInfo(BaseModel):
    total_servers: int
    total_jobs: int
    running_jobs: int
    completed_jobs: int
    failed_jobs: int
    queued_jobs: int
    canceled_jobs: int
    success_rate: float
    timestamp: Timestamp


class WorkerInfo(BaseModel):
    id: str
    hostname: str
    pid: int
    threads: int
    batch_size: int
    running_jobs: int
    started_at: Timestamp
    heartbeat_at: Timestamp


class WorkerStatus(BaseModel):
    active_workers: int
    total_capacity: int
    running_jobs: int
    workers: list[WorkerInfo]


class SystemEnhanced(BaseModel):
    connected_servers: int
    disconnected_servers: int
    unchecked_servers: int
    average_job_duration: float
    jobs_per_hour: int
    worker_status: WorkerStatus
