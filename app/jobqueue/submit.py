"""Creating jobs: new submissions and duplicates."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from typing import Literal, cast

from app.errors import Conflict, InvalidInput
from app.models import Job, Server
from app.servers import get_server

DEFAULT_PRIORITY = 5
JobKind = Literal["command", "script", "playbook"]


@dataclass(frozen=True)
class NewJob:
    server_id: str
    kind: JobKind
    timeout: int
    priority: int = DEFAULT_PRIORITY
    command: str | None = None
    args: str | None = None
    script: str | None = None
    shell: str | None = None
    playbook: str | None = None
    extra_vars: str | None = None  # JSON text
    batch_id: str | None = None


def _runnable_server(server_id: str) -> Server:
    server = get_server(server_id)
    if not server.is_active:
        raise Conflict(f"server {server.name!r} is inactive; activate it to run jobs on it")
    return server


def _insert(new: NewJob) -> Job:
    return Job.create(
        server=_runnable_server(new.server_id),
        kind=new.kind,
        command=new.command,
        args=new.args,
        script=new.script,
        shell=new.shell,
        playbook=new.playbook,
        extra_vars=new.extra_vars,
        batch_id=new.batch_id,
        timeout=new.timeout,
        priority=new.priority,
        status="queued",
    )


def _check_timeout(new: NewJob, max_timeout: int) -> None:
    if new.timeout > max_timeout:
        raise InvalidInput(f"timeout: at most {max_timeout} seconds")


def create_job(new: NewJob, max_timeout: int) -> Job:
    _check_timeout(new, max_timeout)
    with Job._meta.database.atomic():
        return _insert(new)


def target_server_ids(server_id: str | None, server_ids: list[str] | None) -> list[str]:
    """The servers a submission names: one (``server_id``) or several (``server_ids``), exactly one of the two.
    (The one place that decides targets; groups come with the inventory work.)"""
    if (server_id is None) == (server_ids is None):
        raise InvalidInput("server_id: give either server_id or server_ids")
    if server_id is not None:
        return [server_id]
    assert server_ids is not None
    canonical = [get_server(raw).id for raw in server_ids]
    if len(set(canonical)) != len(canonical):
        raise InvalidInput("server_ids: each server may appear once")
    return canonical


def create_batch(new: NewJob, server_ids: list[str], max_timeout: int) -> tuple[str, list[Job]]:
    """One job per server, sharing a new batch id, all or none (one transaction)."""
    _check_timeout(new, max_timeout)
    batch_id = str(uuid.uuid4())
    with Job._meta.database.atomic():
        return batch_id, [_insert(replace(new, server_id=server_id, batch_id=batch_id)) for server_id in server_ids]


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
    """A new queued job with the original's command, args, script, shell, playbook, extra vars, timeout,
    priority and server (not its batch: a duplicate is a job of its own)."""
    from app.jobqueue.reads import get_job

    original = get_job(job_id)
    if original.kind == "command" and (overrides.script is not None or overrides.shell is not None):
        raise InvalidInput("script: the original job is a command; give command or args instead")
    if original.kind == "script" and (overrides.command is not None or overrides.args is not None):
        raise InvalidInput("command: the original job is a script; give script or shell instead")
    if original.kind == "playbook" and any(
        value is not None for value in (overrides.command, overrides.args, overrides.script, overrides.shell)
    ):
        raise InvalidInput("command: the original job is a playbook; only server_id, timeout and priority apply")
    new = NewJob(
        server_id=overrides.server_id or original.server_id,
        kind=cast(JobKind, original.kind),
        timeout=overrides.timeout if overrides.timeout is not None else original.timeout,
        priority=overrides.priority if overrides.priority is not None else original.priority,
        command=overrides.command if overrides.command is not None else original.command,
        args=overrides.args if overrides.args is not None else original.args,
        script=overrides.script if overrides.script is not None else original.script,
        shell=overrides.shell if overrides.shell is not None else original.shell,
        playbook=original.playbook,
        extra_vars=original.extra_vars,
    )
    return original, create_job(new, max_timeout)
