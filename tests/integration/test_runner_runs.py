"""The runner on its own (no database, no HTTP) against a real sshd: what a job leaves on its target, and runs
that take several rounds of jobs."""

from __future__ import annotations

import contextlib
import pwd
import socket
import threading
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from app.runner.config import PLAYBOOKS_DIR
from app.runner.jobs import run_jobs
from app.runner.spec import JobResult, JobSpec, RunnerConfig, Stream, Target
from tests.harness.sshd import SshTarget
from tests.harness.wait import wait_until

pytestmark = pytest.mark.slow


class RecordingListener:
    def __init__(self) -> None:
        self.received: dict[Stream, bytes] = {"stdout": b"", "stderr": b""}
        self.results: dict[str, JobResult] = {}
        self.started_jobs: list[str] = []
        self.lost: dict[str, str] = {}

    def output(self, job_id: str, stream: Stream, data: bytes, offset: int) -> None:
        self.received[stream] += data

    def started(self, job_id: str) -> None:
        self.started_jobs.append(job_id)

    def lost_contact(self, job_id: str, error: str) -> None:
        self.lost[job_id] = error

    def finished(self, job_id: str, result: JobResult) -> None:
        self.results[job_id] = result

    def host_key_seen(self, server_id: str, host_key: str) -> None:
        pass

    def progress(self) -> None:
        pass


class Rounds:
    """A RoundSource: no job joins the first round, ``next_round`` hands the next ones over, and what the run
    gives back is kept."""

    def __init__(self, next_round: Callable[[], list[JobSpec]]) -> None:
        self.next_round = next_round
        self.given_back: list[str] = []

    def join_first(self, room: int) -> list[JobSpec]:
        return []

    def give_back(self, job_ids: list[str]) -> None:
        self.given_back.extend(job_ids)


def config_in(tmp_path: Path) -> RunnerConfig:
    return RunnerConfig(runs_dir=tmp_path / "runs", control_dir=tmp_path / "cp", playbooks_dir=PLAYBOOKS_DIR)


def run_one(config: RunnerConfig, spec: JobSpec) -> tuple[RecordingListener, JobResult]:
    listener = RecordingListener()
    left = run_jobs(config, [spec], listener, threading.Event().is_set)
    assert left == []
    return listener, listener.results[spec.job_id]


def test_a_collected_job_leaves_a_tombstone_that_still_answers_a_reattach(sshd: SshTarget, tmp_path: Path) -> None:
    config = config_in(tmp_path)
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
    # Exit code, reason, stream sizes, and when the job began and ended by the target's clock.
    code, reason, out_size, err_size, began, ended = (jobs_dir / f"{job_id}.done").read_text().split()
    assert (code, reason, out_size, err_size) == ("3", "-", "4", "4")
    assert result.ran_for == float(ended) - float(began) and 0 <= result.ran_for < 5

    # A controller that died before storing the last answer re-attaches from what it holds (nothing):
    # it learns the exit code, and that the output's end was lost, instead of a bare "interrupted".
    again = JobSpec(job_id, "command", "", None, 30, target, reattach=True, attempt=2)
    listener, result = run_one(config, again)
    assert listener.received == {"stdout": b"", "stderr": b""}
    assert (result.exit_code, result.failure_reason) == (3, "nonzero_exit")
    assert result.error is not None and "4 bytes of stdout, 4 bytes of stderr" in result.error
    assert result.ran_for == float(ended) - float(began)  # the tombstone kept it

    # A repeated start of a collected job (a retried claim) does not run it again.
    listener, result = run_one(config, spec)
    assert (listener.received["stdout"], result.exit_code) == (b"", 3)


def test_one_run_takes_the_rounds_handed_over_until_there_are_none(sshd: SshTarget, tmp_path: Path) -> None:
    """Jobs handed over after the first round ended run in the same Ansible run, each with its own
    credentials, and what they carry stays data: a password made of template syntax is never evaluated."""
    canary = tmp_path / "templated-on-the-controller"
    hostile = "{{ lookup('pipe', 'touch " + str(canary) + "') }}"
    by_password = Target("s1", sshd.host, sshd.port, sshd.user.name, password=sshd.user.password)
    by_key = Target("s2", sshd.host, sshd.port, sshd.user.name, private_key=sshd.user.private_key)
    wrong = Target("s3", sshd.host, sshd.port, sshd.user.name, password=hostile)
    first = JobSpec(str(uuid.uuid4()), "command", "echo one", None, 30, by_password)
    second = [
        JobSpec(str(uuid.uuid4()), "command", "echo two", None, 30, by_key),
        JobSpec(str(uuid.uuid4()), "script", "echo three >&2\nexit 4\n", "/bin/sh", 30, by_password),
        JobSpec(str(uuid.uuid4()), "command", "echo never", None, 30, wrong),
    ]
    third = [JobSpec(str(uuid.uuid4()), "command", "echo four", None, 30, by_key)]
    handed: list[list[JobSpec]] = [second, third]
    asked = 0
    listener = RecordingListener()

    def next_round() -> list[JobSpec]:
        nonlocal asked
        asked += 1
        assert first.job_id in listener.results  # a round is asked for only once the previous one has ended
        return handed.pop(0) if handed else []

    left = run_jobs(config_in(tmp_path), [first], listener, threading.Event().is_set, Rounds(next_round), 4)

    assert (left, asked) == ([], 3)  # rounds 2 and 3, then none: the run ended
    results = {job_id: (r.exit_code, r.failure_reason) for job_id, r in listener.results.items()}
    assert results == {
        first.job_id: (0, None),
        second[0].job_id: (0, None),
        second[1].job_id: (4, "nonzero_exit"),
        second[2].job_id: (None, "auth_failed"),
        third[0].job_id: (0, None),
    }
    assert listener.received == {"stdout": b"one\ntwo\nfour\n", "stderr": b"three\n"}
    assert not canary.exists()


def test_jobs_waiting_for_a_new_connection_never_wait_for_a_long_job_of_their_round(
    sshd: SshTarget, tmp_path: Path
) -> None:
    """A long job on one server, and six on another whose connection is new (one opens it, the others wait for
    it): the six all end while the long job still runs, in the same round, instead of the five that followed
    the opener waiting for the next round, behind the long job."""
    server_a, server_b = (
        Target(name, sshd.host, sshd.port, sshd.user.name, password=sshd.user.password, credential_digest=name)
        for name in ("a", "b")
    )
    long_job = JobSpec(str(uuid.uuid4()), "command", "sleep 15", None, 60, server_a)
    echoes = [JobSpec(str(uuid.uuid4()), "command", f"echo {n}", None, 30, server_b) for n in range(6)]
    listener = RecordingListener()

    left = run_jobs(config_in(tmp_path), [long_job, *echoes], listener, threading.Event().is_set, Rounds(list), 8)

    assert left == []
    # The order in which the jobs ended: the six first, while the long job still ran.
    assert list(listener.results)[6:] == [long_job.job_id]
    assert {(r.exit_code, r.failure_reason) for r in listener.results.values()} == {(0, None)}
    assert sorted(listener.received["stdout"].split()) == [str(n).encode() for n in range(6)]


def test_a_round_whose_jobs_all_failed_does_not_end_the_run(sshd: SshTarget, tmp_path: Path) -> None:
    """Ansible ends a playbook once every host of a play failed or was unreachable: a round whose jobs all
    failed (a refused login, then a refused sudo) must not take the later rounds with it."""
    refused_login = Target("s1", sshd.host, sshd.port, sshd.user.name, password="not-the-password")
    refused_sudo = Target(
        "s2",
        sshd.host,
        sshd.port,
        sshd.user.name,
        password=sshd.user.password,
        become_user="root",
        become_password="not-the-password",
    )
    fine = Target("s3", sshd.host, sshd.port, sshd.user.name, password=sshd.user.password)
    first = JobSpec(str(uuid.uuid4()), "command", "echo one", None, 30, refused_login)
    second = JobSpec(str(uuid.uuid4()), "script", "echo two", "/bin/sh", 30, refused_sudo)
    third = JobSpec(str(uuid.uuid4()), "command", "echo three", None, 30, fine)
    handed = [[second], [third]]
    listener = RecordingListener()

    left = run_jobs(
        config_in(tmp_path),
        [first],
        listener,
        threading.Event().is_set,
        Rounds(lambda: handed.pop(0) if handed else []),
        4,
    )

    assert left == []
    results = {job_id: (r.exit_code, r.failure_reason) for job_id, r in listener.results.items()}
    assert results == {
        first.job_id: (None, "auth_failed"),
        second.job_id: (None, "auth_failed"),
        third.job_id: (0, None),
    }
    assert listener.results[second.job_id].error == "sudo refused to run the job as 'root'"
    assert listener.received["stdout"] == b"three\n"


def test_a_stopped_run_queues_again_the_jobs_that_wait_for_a_new_connection(tmp_path: Path) -> None:
    """Three jobs on a server and credential with no ssh master yet: one opens the connection, the other two wait
    for it. The server accepts the connection and says nothing; stopped meanwhile, the run hands the two back,
    never sent (they never connected), instead of leaving them to a re-attach that would find nothing."""
    accepted: list[socket.socket] = []
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        threading.Thread(target=lambda: accepted.append(silent.accept()[0]), daemon=True).start()
        target = Target("s", "127.0.0.1", port, "nobody", password="pw", credential_digest="new")
        specs = [JobSpec(str(uuid.uuid4()), "command", f"echo {n}", None, 30, target) for n in range(3)]
        stop = threading.Event()

        def stop_once_connected() -> None:
            wait_until(lambda: accepted, 60, "the opener's connection")
            stop.set()

        threading.Thread(target=stop_once_connected, daemon=True).start()
        rounds = Rounds(lambda: [])
        left = run_jobs(config_in(tmp_path), specs, RecordingListener(), stop.is_set, rounds, 8)

        assert left == [specs[0].job_id]  # it may have started: re-attached later
        assert sorted(rounds.given_back) == sorted(spec.job_id for spec in specs[1:])
        silent.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            while True:  # what else connected waits to be accepted
                accepted.append(silent.accept()[0])
        assert len(accepted) == 1  # the two waited: they never connected
        for connection in accepted:
            connection.close()
