"""Creating jobs: new submissions and duplicates."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, cast

from app.errors import InvalidInput
from app.fields import new_id
from app.jobqueue.selection import OneServer, Selection, select_servers
from app.models import Job
from app.secrets import Vault

DEFAULT_PRIORITY = 5
JobKind = Literal["command", "script", "playbook"]


@dataclass(frozen=True)
class NewJob:
    kind: JobKind
    timeout: int
    priority: int = DEFAULT_PRIORITY
    command: str | None = None
    args: str | None = None
    script: str | None = None
    shell: str | None = None
    playbook: str | None = None
    extra_vars: str | None = None  # JSON text
    # Overrides of the server's become settings (None: the server's).
    become: bool | None = None
    become_user: str | None = None
    become_password: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Submitted:
    jobs: list[Job]
    batch_id: str | None


def create_jobs(new: NewJob, selection: Selection, max_timeout: int, vault: Vault) -> Submitted:
    """One queued job per selected server, in one transaction; several share a new batch id."""
    if new.timeout > max_timeout:
        raise InvalidInput(f"timeout: at most {max_timeout} seconds")
    if new.become is False and (new.become_user is not None or new.become_password is not None):
        raise InvalidInput("become: become_user and become_password need become (or the server's become)")
    become_password_enc = vault.encrypt_optional(new.become_password)
    with Job._meta.database.atomic():
        selected = select_servers(selection)
        batch_id = new_id() if selected.batch else None
        jobs = [
            Job.create(
                server=server,
                kind=new.kind,
                command=new.command,
                args=new.args,
                script=new.script,
                shell=new.shell,
                playbook=new.playbook,
                extra_vars=new.extra_vars,
                timeout=new.timeout,
                priority=new.priority,
                status="queued",
                batch_id=batch_id,
                become=new.become,
                become_user=new.become_user,
                become_password_enc=become_password_enc,
            )
            for server in selected.servers
        ]
    return Submitted(jobs, batch_id)


@dataclass(frozen=True)
class Overrides:
    server_id: str | None = None
    timeout: int | None = None
    priority: int | None = None
    command: str | None = None
    args: str | None = None
    script: str | None = None
    shell: str | None = None


def duplicate_job(job_id: str, overrides: Overrides, max_timeout: int, vault: Vault) -> tuple[Job, Job]:
    """A new queued job with the original's command, args, script, shell, playbook, extra vars, timeout,
    priority, server and become settings (not its batch: a duplicate is a job of its own; a job's own become
    password is kept only until it ends: a later duplicate has none)."""
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
        kind=cast(JobKind, original.kind),
        timeout=overrides.timeout if overrides.timeout is not None else original.timeout,
        priority=overrides.priority if overrides.priority is not None else original.priority,
        command=overrides.command if overrides.command is not None else original.command,
        args=overrides.args if overrides.args is not None else original.args,
        script=overrides.script if overrides.script is not None else original.script,
        shell=overrides.shell if overrides.shell is not None else original.shell,
        playbook=original.playbook,
        extra_vars=original.extra_vars,
        become=original.become,
        become_user=original.become_user,
        become_password=vault.decrypt_optional(original.become_password_enc),
    )
    selection = OneServer(overrides.server_id or original.server_id)
    return original, create_jobs(new, selection, max_timeout, vault).jobs[0]
