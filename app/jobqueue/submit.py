"""Creating jobs: new submissions and duplicates."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, cast

from app.errors import InvalidInput
from app.fields import new_id
from app.jobkinds import JobKind
from app.jobqueue.selection import OneServer, Selection, select_servers
from app.models import Job
from app.scopes import Visible
from app.vault import Vault

DEFAULT_PRIORITY: Final = 5
# Submitted, but stored only encrypted (``become_password_enc``), and only until the job ends.
_ENCRYPTED: Final = "become_password"


@dataclass(frozen=True)
class NewJob:
    """What a submission sets on each job it creates.

    Each field has the name of the request field it comes from (app/schemas/jobs.py) and of the ``Job`` column it
    fills (app/models.py): the API passes the request's fields by name, ``create_jobs`` stores them by name and
    ``duplicate_job`` copies them by name. A new submitted field is declared here once; a request field with no
    counterpart here is a TypeError at its first submission, never a value silently dropped.
    """

    kind: JobKind
    timeout: int
    priority: int = DEFAULT_PRIORITY
    command: str | None = None
    args: str | None = None
    script: str | None = None
    shell: str | None = None
    playbook: str | None = None
    extra_vars: str | None = None  # JSON text, as stored
    # Overrides of the server's become settings (None: the server's).
    become: bool | None = None
    become_user: str | None = None
    become_password: str | None = field(default=None, repr=False)

    def columns(self) -> dict[str, Any]:
        """The fields stored as they are, by column name."""
        return {one.name: getattr(self, one.name) for one in dataclasses.fields(self) if one.name != _ENCRYPTED}

    @classmethod
    def copy_of(cls, job: Job, vault: Vault) -> NewJob:
        """What ``job`` was submitted with (its become password only while it still has one)."""
        stored = {one.name: getattr(job, one.name) for one in dataclasses.fields(cls) if one.name != _ENCRYPTED}
        return cls(**stored, become_password=vault.decrypt_optional(job.become_password_enc))


@dataclass(frozen=True)
class Submitted:
    jobs: list[Job]
    batch_id: str | None


def create_jobs(
    new: NewJob,
    selection: Selection,
    max_timeout: int,
    vault: Vault,
    submitted_by: str | None = None,
    visible: Visible = None,
    *,
    recorded: Mapping[str, Any] | None = None,
) -> Submitted:
    """One queued job per selected server, in one transaction; several share a new batch id. ``submitted_by``:
    the audit actor who asked (app/principals.py); ``visible``: the servers in their scope (one out of it
    refuses the whole submission). ``recorded``: columns that say where the job comes from rather than what it
    runs (a template launch's template, version and values), set on each job as given."""
    if new.timeout > max_timeout:
        raise InvalidInput(f"timeout: at most {max_timeout} seconds")
    if new.become is False and (new.become_user is not None or new.become_password is not None):
        raise InvalidInput("become: become_user and become_password need become (or the server's become)")
    columns = new.columns()
    become_password_enc = vault.encrypt_optional(new.become_password)
    with Job._meta.database.atomic():
        selected = select_servers(selection, visible)
        batch_id = new_id() if selected.batch else None
        jobs = [
            Job.create(
                server=server,
                status="queued",
                batch_id=batch_id,
                become_password_enc=become_password_enc,
                submitted_by=submitted_by,
                **columns,
                **(recorded or {}),
            )
            for server in selected.servers
        ]
    return Submitted(jobs, batch_id)


# The overrides a duplicate refuses, by the original's kind, and what it answers (JobDuplicate has no playbook
# fields: a playbook job's duplicate changes only where, how long and how urgently it runs).
_FOREIGN_OVERRIDES: Final[Mapping[JobKind, tuple[frozenset[str], str]]] = {
    "command": (
        frozenset({"script", "shell"}),
        "script: the original job is a command; give command or args instead",
    ),
    "script": (
        frozenset({"command", "args"}),
        "command: the original job is a script; give script or shell instead",
    ),
    "playbook": (
        frozenset({"command", "args", "script", "shell"}),
        "command: the original job is a playbook; only server_id, timeout and priority apply",
    ),
}


def duplicate_job(
    job_id: str,
    server_id: str | None,
    overrides: Mapping[str, Any],
    max_timeout: int,
    vault: Vault,
    submitted_by: str | None = None,
    visible: Visible = None,
) -> tuple[Job, Job]:
    """A new queued job with the original's submitted fields (``NewJob``) but for the ``overrides`` given (fields
        of ``NewJob`` by name), on ``server_id`` or the original's server. Not in the original's batch: a duplicate is
        a job of its own. A job's own become password is kept only until it ends: a later duplicate has none. The
    duplicate is submitted by whoever duplicates it (``submitted_by``), not by the original's submitter."""
    from app.jobqueue.reads import get_job

    original = get_job(job_id, visible)  # out of scope: not found
    # create_jobs stored the kind from a JobKind.
    foreign, refusal = _FOREIGN_OVERRIDES[cast(JobKind, original.kind)]
    if not foreign.isdisjoint(overrides):
        raise InvalidInput(refusal)
    new = dataclasses.replace(NewJob.copy_of(original, vault), **overrides)
    selection = OneServer(server_id or original.server_id)
    return original, create_jobs(new, selection, max_timeout, vault, submitted_by, visible).jobs[0]
