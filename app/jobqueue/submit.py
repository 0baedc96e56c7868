"""Creating jobs: new submissions and duplicates."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, cast

from app.errors import Conflict, InvalidInput
from app.models import Job, Server
from app.servers import get_server

DEFAULT_PRIORITY = 5


@dataclass(frozen=True)
class NewJob:
    server_id: str
    kind: Literal["command", "script"]
    timeout: int
    priority: int = DEFAULT_PRIORITY
    command: str | None = None
    args: str | None = None
    script: str | None = None
    shell: str | None = None


def _runnable_server(server_id: str) -> Server:
    server = get_server(server_id)
    if not server.is_active:
        raise Conflict(f"server {server.name!r} is inactive; activate it to run jobs on it")
    return server


def create_job(new: NewJob, max_timeout: int) -> Job:
    if new.timeout > max_timeout:
        raise InvalidInput(f"timeout: at most {max_timeout} seconds")
    with Job._meta.database.atomic():
        server = _runnable_server(new.server_id)
        return Job.create(
            server=server,
            kind=new.kind,
            command=new.command,
            args=new.args,
            script=new.script,
            shell=new.shell,
            timeout=new.timeout,
            priority=new.priority,
            status="queued",
        )


@dataclass(frozen=True)
class Overrides:
    server_id: str | None = None
    timeout: int | None = None
    priority: int | None = None
    command: str | None = None
    args: str | None = None
    script: str | None = None
    shell: str | None = None


def duplicate_job(job_id: str, overrides: Overrides, max_timeout: int) -> tuple[Job, Job]:
    """A new queued job with the original's command, args, script, shell, timeout, priority and server."""
    from app.jobqueue.reads import get_job

    original = get_job(job_id)
    if original.kind == "command" and (overrides.script is not None or overrides.shell is not None):
        raise InvalidInput("script: the original job is a command; give command or args instead")
    if original.kind == "script" and (overrides.command is not None or overrides.args is not None):
        raise InvalidInput("command: the original job is a script; give script or shell instead")
    new = NewJob(
        server_id=overrides.server_id or original.server_id,
        kind=cast(Literal["command", "script"], original.kind),
        timeout=overrides.timeout if overrides.timeout is not None else original.timeout,
        priority=overrides.priority if overrides.priority is not None else original.priority,
        command=overrides.command if overrides.command is not None else original.command,
        args=overrides.args if overrides.args is not None else original.args,
        script=overrides.script if overrides.script is not None else original.script,
        shell=overrides.shell if overrides.shell is not None else original.shell,
    )
    return original, create_job(new, max_timeout)
