"""What the runner is given and what it reports: plain data, no database, no HTTP."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

Stream = Literal["stdout", "stderr"]


@dataclass(frozen=True)
class Target:
    """How to reach one server. Holds decrypted credentials: never log it (its repr hides them)."""

    server_id: str
    hostname: str
    port: int
    user: str
    password: str | None = field(default=None, repr=False)
    private_key: str | None = field(default=None, repr=False)
    # "TYPE BASE64" trusted on first use; None until the first connection.
    host_key: str | None = None
    # Run as this user through sudo (None: as ``user``), with this sudo password (None: sudo without one).
    become_user: str | None = None
    become_password: str | None = field(default=None, repr=False)
    # ansible_python_interpreter on the target (modules need it; the raw tasks of jobs do not).
    python_interpreter: str | None = None
    # A keyed digest of the endpoint and credential: SSH masters are shared only by identical credentials.
    credential_digest: str = field(default="", repr=False)


@dataclass(frozen=True)
class JobSpec:
    job_id: str
    kind: Literal["command", "script"]
    # The shell command line (command + args) or the script text.
    payload: str = field(repr=False)
    shell: str | None
    timeout: int
    target: Target
    # What the controller already holds, for a re-attached job.
    stdout_offset: int = 0
    stderr_offset: int = 0
    reattach: bool = False
    # Which claim of the job this run is: an older run (a worker that was given up for dead) may not clean up.
    attempt: int = 1
    # Environment variables of the job's process (a template's parameter values), by name ([a-z][a-z0-9_]*):
    # the others travel base64-encoded in the start command like the payload; the secret ones never go into a
    # command line or a file, only into the start command's stdin (playbooks/connection_plugins/newremora_ssh.py).
    environment: dict[str, str] = field(default_factory=dict, repr=False)
    secret_environment: dict[str, str] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class JobResult:
    exit_code: int | None
    # None, nonzero_exit, timeout, unreachable, auth_failed, host_key_mismatch, interrupted, internal, canceled
    failure_reason: str | None
    error: str | None
    # How long the job ran on its target, measured there (None: unknown, or it never ran).
    ran_for: float | None = None


class RunObserver(Protocol):
    """Told, after each ansible-runner run, how long it lasted (for the metrics)."""

    def __call__(self, playbook: str, outcome: str, seconds: float) -> None: ...


@dataclass(frozen=True)
class RunnerConfig:
    runs_dir: Path
    control_dir: Path
    playbooks_dir: Path
    poll_wait_ms: int = 5000
    chunk_bytes: int = 512 * 1024
    kill_grace_s: int = 5
    connect_timeout_s: int = 10
    control_persist_s: int = 60
    observe_run: RunObserver | None = field(default=None, compare=False)


class JobListener(Protocol):
    """Receives what a run learns, on the runner's thread, in order per job."""

    def output(self, job_id: str, stream: Stream, data: bytes, offset: int) -> None: ...

    def started(self, job_id: str) -> None:
        """The job's target answered that the job runs (the first answer of its claim, unless that was its end)."""

    def lost_contact(self, job_id: str, error: str) -> None:
        """The connection to a job that may have started was lost: the run no longer polls it (the service hands it
        back to be re-attached, or ends it)."""

    def finished(self, job_id: str, result: JobResult) -> None: ...

    def host_key_seen(self, server_id: str, host_key: str) -> None: ...

    def progress(self) -> None:
        """Any event of the run arrived: it is alive."""


class RoundSource(Protocol):
    """Where a run of command jobs gets more jobs while its Ansible is up (called on the runner's thread, from
    Ansible's event handler: a round begins when the previous one's jobs have all ended)."""

    def join_first(self, room: int) -> list[JobSpec]:
        """Jobs queued while Ansible started, up to ``room``: they join round 1 at once (nothing is waited for)."""
        ...

    def next_round(self) -> list[JobSpec]:
        """Jobs for the next round, perhaps after a short wait; none ends the run."""
        ...

    def give_back(self, job_ids: list[str]) -> None:
        """Jobs handed to this run that it never started, because it was stopped: they are queued again."""
        ...


@dataclass(frozen=True)
class PlaybookSpec:
    job_id: str
    playbook: Path  # resolved, inside the playbook directory
    extra_vars: dict[str, Any] = field(repr=False)
    timeout: int
    target: Target
    # The host's name in the play (inventory_hostname): the server's name where it can be one.
    host_alias: str
    # A template's parameter values, as extra vars Ansible never templates (app/runner/extravars.py); the secret
    # ones reach the play through the run's secret socket only (never written into a file).
    parameters: dict[str, Any] = field(default_factory=dict, repr=False)
    secret_parameters: dict[str, str] = field(default_factory=dict, repr=False)


TaskStatus = Literal["ok", "changed", "failed", "skipped", "unreachable"]


@dataclass(frozen=True)
class TaskEvent:
    """The result of one task on one host, as a `task` event of the job's stream shows it."""

    host: str
    play: str
    task: str
    action: str
    status: TaskStatus
    changed: bool
    # Set for a failure that the play goes on after (ignore_errors); the recap does not count it.
    ignored: bool
    rc: int | None
    msg: str
    stdout: str
    stderr: str

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


class PlaybookListener(JobListener, Protocol):
    def task(self, job_id: str, event: TaskEvent) -> None: ...
