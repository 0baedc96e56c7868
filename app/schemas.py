"""Pydantic request/response models: the validation and the OpenAPI document come from here."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer, model_validator

from app.clock import rfc3339, utcnow
from app.validators import (
    check_extra_vars,
    check_group_name,
    check_hostname,
    check_interpreter,
    check_login_name,
    check_secret_text,
    check_server_name,
)

T = TypeVar("T")

Timestamp = Annotated[datetime, PlainSerializer(rfc3339, return_type=str)]
Hostname = Annotated[str, Field(min_length=1, max_length=253), AfterValidator(check_hostname)]
LoginName = Annotated[str, AfterValidator(check_login_name)]
ServerName = Annotated[str, AfterValidator(check_server_name)]
Port = Annotated[int, Field(ge=1, le=65535)]
Password = Annotated[str, Field(min_length=1, max_length=4096), AfterValidator(check_secret_text)]
PrivateKeyText = Annotated[str, Field(min_length=1, max_length=64 * 1024)]
AuthType = Literal["password", "key"]
GroupName = Annotated[str, AfterValidator(check_group_name)]
GroupNames = Annotated[list[GroupName], Field(max_length=100)]
Interpreter = Annotated[str, Field(max_length=255), AfterValidator(check_interpreter)]
Description = Annotated[str, Field(max_length=1000)]


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


# ----- credentials and groups ----------------------------------------------------------------------


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


class GroupOut(BaseModel):
    name: str
    children: list[str]
    parents: list[str]
    servers: list[str]
    total_servers: int


class GroupList(BaseModel):
    groups: list[GroupOut]


# ----- inventories ---------------------------------------------------------------------------------


class InventoryImport(RequestModel):
    """An Ansible inventory, INI or YAML, as text (``format: auto`` lets Ansible's parsers decide)."""

    content: Annotated[str, Field(min_length=1, max_length=1024 * 1024)]
    format: Literal["auto", "ini", "yaml"] = "auto"
    dry_run: bool = False


class ImportedHost(BaseModel):
    name: str
    server_id: str | None
    groups: list[str]
    changes: list[str]
    ignored_vars: list[str]


class SkippedHost(BaseModel):
    name: str
    reason: str


class ImportReport(BaseModel):
    dry_run: bool
    created: list[ImportedHost]
    updated: list[ImportedHost]
    unchanged: list[ImportedHost]
    skipped: list[SkippedHost]
    groups_created: list[str]


class InventoryExportQuery(QueryModel):
    format: Literal["ini", "yaml"] = "yaml"


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


MAX_BATCH_SERVERS = 1000


class TargetChoice(RequestModel):
    """Exactly one of ``server_id`` (one job, as before), ``server_ids`` or ``group`` (one job per server,
    sharing a ``batch_id``)."""

    server_id: str | None = None
    server_ids: Annotated[list[str], Field(min_length=1, max_length=MAX_BATCH_SERVERS)] | None = None
    group: GroupName | None = None

    @model_validator(mode="after")
    def _one_target(self) -> TargetChoice:
        given = [name for name in ("server_id", "server_ids", "group") if getattr(self, name) is not None]
        if not given:
            raise ValueError("server_id: is required (or give server_ids or group)")
        if len(given) > 1:
            raise ValueError("server_id: give exactly one of server_id, server_ids or group")
        if self.server_ids is not None and len(set(self.server_ids)) != len(self.server_ids):
            raise ValueError("server_ids: each server once")
        return self


class JobTargets(TargetChoice):
    """The targets, and optional become (sudo) settings that override the server's."""

    become: bool | None = None
    become_user: LoginName | None = None
    become_password: Password | None = None


class JobCreate(JobTargets):
    command: Annotated[JobText, Field(min_length=1)]
    args: JobText | None = None
    timeout: JobTimeout = 300
    priority: Priority = 5

    @model_validator(mode="after")
    def _fits(self) -> JobCreate:
        if len((self.command + " " + (self.args or "")).encode()) > MAX_JOB_TEXT:
            raise ValueError(f"args: command and args together may be {MAX_JOB_TEXT} bytes at most")
        if not self.command.strip():
            raise ValueError("command: must not be blank")
        return self


class ScriptJobCreate(JobTargets):
    script: Annotated[JobText, Field(min_length=1)]
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


class PlaybookJobCreate(TargetChoice):
    """A playbook of the playbook directory, by file name, on one server or several (one job each)."""

    playbook: Annotated[str, Field(min_length=1, max_length=255)]
    extra_vars: ExtraVars | None = None
    timeout: JobTimeout = 1800
    priority: Priority = 5


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
    become: bool | None
    become_user: str | None


class JobDetail(JobOut):
    # null when asked for without them (?include_output=false)
    output: str | None
    stdout: str | None
    stderr: str | None


class JobDetailQuery(QueryModel):
    include_output: bool = True


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


class JobBatchCreated(BaseModel):
    """The answer to a submission for several servers: one job per server, in server name order."""

    batch_id: str
    count: int
    jobs: list[JobOut]


class BatchJob(BaseModel):
    job_id: str
    server_id: str
    server_name: str
    status: JobStatus
    exit_code: int | None
    failure_reason: str | None


class BatchSummary(BaseModel):
    batch_id: str
    # running while any job is queued or running; then completed if all completed, else failed/canceled.
    status: Literal["running", "completed", "failed", "canceled"]
    total: int
    counts: dict[str, int]
    created_at: Timestamp
    finished_at: Timestamp | None
    jobs: list[BatchJob]


class JobList(BaseModel):
    jobs: list[JobOut]
    pagination: Pagination


class JobListQuery(QueryModel):
    page: Annotated[int, Field(ge=1, le=1_000_000_000)] = 1
    limit: Annotated[int, Field(ge=1, le=100)] = 20
    status: JobStatus | None = None
    server_id: str | None = None
    batch_id: str | None = None
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
