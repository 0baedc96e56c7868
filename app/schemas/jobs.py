"""``/api/v1/jobs``: submitting commands, scripts and playbooks, and reading jobs back."""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal

from pydantic import AfterValidator, BaseModel, Field, model_validator

from app.jobstates import JobStatus
from app.schemas.common import GroupName, LoginName, Pagination, Password, QueryModel, RequestModel, Timestamp
from app.validators import check_extra_vars

# The job text travels base64-encoded in one argument of the remote shell, which Linux caps at 128 KiB.
MAX_JOB_TEXT: Final = 64 * 1024
ShellPath = Annotated[str, Field(pattern=r"^/[A-Za-z0-9._/+-]{1,255}$", max_length=256)]
Priority = Annotated[int, Field(ge=1, le=10)]
JobTimeout = Annotated[int, Field(ge=1)]


# A NUL is refused in every request field alike (RequestModel, app/schemas/common.py).
JobText = Annotated[str, Field(max_length=MAX_JOB_TEXT)]

# How many servers one submission may name in ``server_ids`` (docs/inventories.md, docs/decisions.md). Each playbook
# job is an Ansible run of its own (docs/execution.md), so a playbook submission names fewer.
MAX_COMMAND_SERVERS: Final = 1000
MAX_PLAYBOOK_SERVERS: Final = 500
CommandServerIds = Annotated[list[str], Field(min_length=1, max_length=MAX_COMMAND_SERVERS)]
PlaybookServerIds = Annotated[list[str], Field(min_length=1, max_length=MAX_PLAYBOOK_SERVERS)]


class TargetChoice(RequestModel):
    """Exactly one of ``server_id`` (one job, as before), ``server_ids`` or ``group`` (one job per server,
    sharing a ``batch_id``)."""

    server_id: str | None = None
    server_ids: CommandServerIds | None = None
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


class PlaybookJobCreate(TargetChoice):
    """A playbook of the playbook directory, by file name, on one server or several (one job each)."""

    # Redeclared for its own limit; it keeps its place (second) among the fields.
    server_ids: PlaybookServerIds | None = None
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
    status: JobStatus = Field(
        description=(
            "queued: waiting for a worker. starting: a worker took it and is starting it on its server (it has not "
            "run yet; after a restart of the service it is started normally, once). running: seen started on its "
            "server. Then completed (exit code 0), failed (see failure_reason) or canceled. A playbook job goes "
            "from queued to running: its Ansible run starts at once."
        )
    )
    server_id: str
    server: JobServer
    priority: int
    timeout: int
    exit_code: int | None
    error: str | None
    failure_reason: str | None
    created_at: Timestamp
    started_at: Timestamp | None = Field(
        description="When the job was seen started on its server; null if it never started."
    )
    finished_at: Timestamp | None
    cancel_requested_at: Timestamp | None
    canceled_at: Timestamp | None
    contact_lost_at: Timestamp | None = Field(
        description=(
            "Set while the service has lost its connection to a running job's server: the job goes on there, and "
            "the service reconnects and re-attaches to it (its output is collected from where it stopped). If the "
            "server stays unreachable for NEWREMORA_RECONNECT_GRACE seconds after this time, the job ends failed, "
            "failure_reason interrupted. null while in contact."
        )
    )
    output_bytes: int
    output_truncated: bool
    output_pruned_at: Timestamp | None = Field(
        description=(
            "When the output retention (NEWREMORA_OUTPUT_RETENTION_DAYS) deleted this ended job's output: its "
            "status, exit code and times stay, its output and stream replay are empty from then on; output_bytes "
            "still says how much there was. null while the output is kept."
        ),
        examples=[None],
    )
    batch_id: str | None
    become: bool | None
    become_user: str | None
    submitted_by: str | None = Field(
        description="Who submitted the job: the audit actor, `local:local`, `key:<key id>` (null: before the audit "
        "trail existed)."
    )
    canceled_by: str | None = Field(description="Who asked to cancel the job (the first to ask); null otherwise.")
    template_id: str | None = Field(
        default=None,
        description="The template the job was launched from (it may have been changed or deleted since); null "
        "for a job submitted directly.",
    )
    template_version: int | None = Field(
        default=None, description="The template's version the job was launched from.", examples=[3]
    )
    parameters: dict[str, Any] | None = Field(
        default=None,
        description='The parameter values the job was launched with; a secret one as "********".',
        examples=[{"branch": "main", "workers": 4, "token": "********"}],
    )


# What an output field holds, for the OpenAPI document (docs/streaming.md, "Bytes, NUL and invalid UTF-8").
OUTPUT_TEXT: Final = (
    "The bytes printed, as UTF-8 text: a NUL byte is the character U+0000 (JSON \\u0000), the same on SQLite and "
    "PostgreSQL; bytes that are not UTF-8 become U+FFFD. null with ?include_output=false."
)


class JobDetail(JobOut):
    # null when asked for without them (?include_output=false)
    output: str | None = Field(description=f"stdout and stderr in arrival order. {OUTPUT_TEXT}")
    stdout: str | None = Field(description=OUTPUT_TEXT)
    stderr: str | None = Field(description=OUTPUT_TEXT)


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


class JobBatchCreated(BaseModel):
    """The answer to a submission for several servers: one job per server, in server name order."""

    batch_id: str
    count: int
    jobs: list[JobOut]


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
    canceled_by: str | None = Field(
        default=None, description="Who asked first (an audit actor such as key:<id>); a later cancel keeps it."
    )


class OriginalJob(BaseModel):
    id: str
    kind: str
    command: str | None


class JobDuplicated(BaseModel):
    original_job: OriginalJob
    new_job: JobOut
