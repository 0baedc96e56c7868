"""What a job leaves on its target: after it was collected only a small tombstone, which still answers a
controller that re-attaches (one that died before storing the last answer)."""

from __future__ import annotations

import pwd
import threading
import uuid
from pathlib import Path

import pytest

from app.runner.jobs import run_jobs
from app.runner.spec import JobResult, JobSpec, RunnerConfig, Stream, Target
from app.worker import PLAYBOOKS_DIR
from tests.harness.sshd import SshTarget

pytestmark = pytest.mark.slow


class RecordingListener:
    def __init__(self) -> None:
        self.received: dict[Stream, bytes] = {"stdout": b"", "stderr": b""}
        self.results: dict[str, JobResult] = {}

    def output(self, job_id: str, stream: Stream, data: bytes, offset: int) -> None:
        self.received[stream] += data

    def finished(self, job_id: str, result: JobResult) -> None:
        self.results[job_id] = result

    def host_key_seen(self, server_id: str, host_key: str) -> None:
        pass

    def progress(self) -> None:
        pass


def run_one(config: RunnerConfig, spec: JobSpec) -> tuple[RecordingListener, JobResult]:
    listener = RecordingListener()
    left = run_jobs(config, [spec], listener, threading.Event().is_set)
    assert left == []
    return listener, listener.results[spec.job_id]


def test_a_collected_job_leaves_a_tombstone_that_still_answers_a_reattach(sshd: SshTarget, tmp_path: Path) -> None:
    config = RunnerConfig(runs_dir=tmp_path / "runs", control_dir=tmp_path / "cp", playbooks_dir=PLAYBOOKS_DIR)
    target = Target("server", sshd.host, sshd.port, sshd.user.name, password=sshd.user.password)
    job_id = str(uuid.uuid4())
    spec = JobSpec(job_id, "command", "echo out; echo err >&2; exit 3", None, 30, target)

    listener, result = run_one(config, spec)
    assert (listener.received, result.exit_code, result.failure_reason) == (
        {"stdout": b"out\n", "stderr": b"err\n"},
        3,
        "nonzero_exit",
    )
    jobs_dir = Path(pwd.getpwnam(sshd.user.name).pw_dir) / ".newremora" / "jobs"
    assert not (jobs_dir / job_id).exists()  # output, payload and state are gone from the target
    assert (jobs_dir / f"{job_id}.done").read_text().split() == ["3", "-", "4", "4"]

    # A controller that died before storing the last answer re-attaches from what it holds (nothing):
    # it learns the exit code, and that the output's end was lost, instead of a bare "interrupted".
    again = JobSpec(job_id, "command", "", None, 30, target, reattach=True, attempt=2)
    listener, result = run_one(config, again)
    assert listener.received == {"stdout": b"", "stderr": b""}
    assert (result.exit_code, result.failure_reason) == (3, "nonzero_exit")
    assert result.error is not None and "4 bytes of stdout, 4 bytes of stderr" in result.error

    # A repeated start of a collected job (a retried claim) does not run it again.
    listener, result = run_one(config, spec)
    assert (listener.received["stdout"], result.exit_code) == (b"", 3)
