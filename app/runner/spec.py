"""What the runner is given and what it reports: plain data, no database, no HTTP."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

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


@dataclass(frozen=True)
class JobResult:
    exit_code: int | None
    # None, nonzero_exit, timeout, unreachable, auth_failed, host_key_mismatch, interrupted, internal, canceled
    failure_reason: str | None
    error: str | None


@dataclass(frozen=True)
class RunnerConfig:
    runs_dir: Path
    control_dir: Path
    playbooks_dir: Path
    poll_wait_s: int = 5
    chunk_bytes: int = 512 * 1024
    kill_grace_s: int = 5
    connect_timeout_s: int = 10
    control_persist_s: int = 60


class JobListener(Protocol):
    """Receives what a run learns, on the runner's thread, in order per job."""

    def output(self, job_id: str, stream: Stream, data: bytes, offset: int) -> None: ...

    def finished(self, job_id: str, result: JobResult) -> None: ...

    def host_key_seen(self, server_id: str, host_key: str) -> None: ...

    def progress(self) -> None:
        """Any event of the run arrived: it is alive."""
