"""A job outlives the loss of its SSH connection: the service re-attaches, from the byte offsets it stored, and the
job ends as it ended on its target, with every line once; only a target unreachable for longer than
NEWREMORA_RECONNECT_GRACE ends the job, as interrupted. And a job claimed by a worker but not yet started on its
target shows `starting`, and is started (once) after a kill -9 of the service, never failed."""

from __future__ import annotations

import contextlib
import os
import pwd
import signal
import tempfile
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e import jobs_api
from tests.e2e.jobs_api import finished, job, server, submit
from tests.harness.fixtures import SshdFactory
from tests.harness.processes import live_processes_mentioning
from tests.harness.service import Service
from tests.harness.sshd import SshTarget, TestUser
from tests.harness.wait import wait_until
from tests.jobs_helpers import seconds_between

pytestmark = pytest.mark.slow

# Long enough for the job to go on well after its connection is cut; short enough for CI.
LINES = 10
END_WITHIN = 90  # seconds; only ends a broken run


def ticker(ledger: str, lines: int = LINES, exit_code: int = 3) -> str:
    """A job that notes its start and its end in ``~/ledger`` (twice "start": it ran twice), with a numbered line on
    stdout every 0.5 s, every other one on stderr too."""
    return (
        f"echo start >> ~/{ledger}; "
        f'for i in $(seq 1 {lines}); do echo "line $i"; [ $((i % 2)) = 0 ] && echo "err $i" >&2; sleep 0.5; done; '
        f"echo done >> ~/{ledger}; exit {exit_code}"
    )


def expected_stdout(lines: int = LINES) -> str:
    return "".join(f"line {i}\n" for i in range(1, lines + 1))


def expected_stderr(lines: int = LINES) -> str:
    return "".join(f"err {i}\n" for i in range(2, lines + 1, 2))


@pytest.fixture(params=["sqlite", "postgresql"])
def env(request: pytest.FixtureRequest, control_root: Path) -> dict[str, str]:
    # The tests poll jobs ten times a second: more than the default rate limit allows.
    settings = {
        "NEWREMORA_WORKERS": "2",
        "NEWREMORA_CONTROL_DIR": tempfile.mkdtemp(dir=control_root),
        "NEWREMORA_RATE_LIMIT": "0",
    }
    if request.param == "postgresql":
        settings = {**request.getfixturevalue("pg_env"), **settings}
    return settings


def wait_for(
    http: httpx.Client, job_id: str, condition: Callable[[dict[str, Any]], object], timeout: float = END_WITHIN
) -> dict[str, Any]:
    return jobs_api.wait_for(http, job_id, condition, timeout)


def printed(line: int) -> Callable[[dict[str, Any]], bool]:
    """The job's stdout, as the API shows it, holds its line ``line``: the job is started and in contact."""

    def seen(state: dict[str, Any]) -> bool:
        assert not finished(state), f"the job ended before its line {line}: {state}"
        return f"line {line}\n" in state["stdout"]

    return seen


def ending(state: dict[str, Any]) -> str:
    """How a job ended, for a failure message (its JSON is long: the command, the output)."""
    return f"{state['status']} ({state['failure_reason']}, exit code {state['exit_code']}: {state['error']})"


def out_of_contact(state: dict[str, Any]) -> bool:
    """The job is known to be out of contact (contact_lost_at set), and is still running: never ended for it."""
    assert state["status"] == "running", f"the job did not stay running while out of contact: {ending(state)}"
    return state.get("contact_lost_at") is not None


def ticking(http: httpx.Client, target: SshTarget, ledger: str) -> str:
    """A ticker job on ``target``, once its line 3 is seen through the API (started, and in contact)."""
    job_id = submit(http, server(http, target), ticker(ledger))
    wait_for(http, job_id, printed(3))
    return job_id


def assert_ended_as_on_its_target(done: dict[str, Any], user: TestUser, ledger: str) -> None:
    """The job's own end (exit code 3), every line of both streams once and in order, in contact again, and
    it ran once, to its end (its ledger)."""
    assert (done["status"], done["failure_reason"], done["exit_code"]) == ("failed", "nonzero_exit", 3), ending(done)
    assert done["stdout"] == expected_stdout()  # every line once: nothing lost, nothing repeated
    assert done["stderr"] == expected_stderr()
    assert done.get("contact_lost_at", "(absent)") is None  # back in contact
    assert (user.home / ledger).read_text() == "start\ndone\n"


def test_a_dropped_connection_is_reattached_and_the_job_completes(
    tmp_path: Path, env: dict[str, str], services: list[Service], sshd_factory: SshdFactory
) -> None:
    """The sshd processes serving the job's connection are killed (the listener stays up) while the job prints:
    the job is not failed as unreachable. It ends as it ended on its target (exit code 3), with every line of
    both streams exactly once and in order, and ran once (its ledger)."""
    target = sshd_factory()
    ledger = f"ledger-{uuid.uuid4().hex}"
    service = Service.start(tmp_path, env)
    services.append(service)
    with httpx.Client(base_url=service.base_url, timeout=30) as http:
        job_id = ticking(http, target.target, ledger)
        assert target.drop_connections() >= 1
        seen: list[str] = []

        def ended(state: dict[str, Any]) -> bool:
            seen.append(state["status"])
            return finished(state)

        done = wait_for(http, job_id, ended)
    assert set(seen[:-1]) <= {"running"}, seen  # never anything else before its end
    assert_ended_as_on_its_target(done, target.user, ledger)


def test_sshd_stopped_and_restarted_within_the_grace_period(
    tmp_path: Path, env: dict[str, str], services: list[Service], sshd_factory: SshdFactory
) -> None:
    """The target's sshd stops while the job prints (every connection with it) and starts again on its port with
    its host key: while it is away the job stays running and shows since when it is out of contact
    (contact_lost_at); then the service reconnects, and the job ends as it ended on its target, every line once,
    contact_lost_at null again."""
    target = sshd_factory()
    ledger = f"ledger-{uuid.uuid4().hex}"
    service = Service.start(tmp_path, env)
    services.append(service)
    with httpx.Client(base_url=service.base_url, timeout=30) as http:
        job_id = ticking(http, target.target, ledger)
        target.stop()
        lost = wait_for(http, job_id, out_of_contact)
        target.start_again()
        done = wait_for(http, job_id, finished)
    assert seconds_between(lost["started_at"], lost["contact_lost_at"]) >= 0
    assert_ended_as_on_its_target(done, target.user, ledger)


def commands_of(user: TestUser, text: str) -> list[int]:
    """Live processes of the target's user whose command line holds ``text``."""
    uid = pwd.getpwnam(user.name).pw_uid
    found = []
    for process in live_processes_mentioning(text):
        with contextlib.suppress(OSError):
            if Path(f"/proc/{process.pid}").stat().st_uid == uid:
                found.append(process.pid)
    return found


def test_a_target_unreachable_beyond_the_grace_period_is_interrupted(
    tmp_path: Path, env: dict[str, str], services: list[Service], sshd_factory: SshdFactory
) -> None:
    """With NEWREMORA_RECONNECT_GRACE=5, a target whose sshd stopped for good: the job stays running for the grace
    period after contact was lost, then fails as interrupted, with an error that says the connection was lost and
    that the command may still be running there (it is: checked on the target)."""
    target = sshd_factory()
    ledger = f"ledger-{uuid.uuid4().hex}"
    service = Service.start(tmp_path, {**env, "NEWREMORA_RECONNECT_GRACE": "5"})
    services.append(service)
    try:
        with httpx.Client(base_url=service.base_url, timeout=30) as http:
            job_id = submit(http, server(http, target.target), ticker(ledger, lines=60))
            wait_for(http, job_id, printed(1))
            target.stop()
            lost = wait_for(http, job_id, out_of_contact)
            done = wait_for(http, job_id, finished)
        assert (done["status"], done["failure_reason"]) == ("failed", "interrupted"), ending(done)
        error = done["error"] or ""
        assert error.strip() and not error.rstrip().endswith(":"), ending(done)
        assert "may still be running" in error.lower(), ending(done)
        # Ended once the grace period was over, counted from the loss the job showed, not sooner.
        assert seconds_between(lost["contact_lost_at"], done["finished_at"]) >= 5, (lost, done)
        # What the error says is true: the command goes on, on its target.
        assert (target.user.home / ledger).read_text() == "start\n"
        assert commands_of(target.user, ledger)
    finally:
        for pid in commands_of(target.user, ledger):
            with contextlib.suppress(OSError):
                os.killpg(os.getpgid(pid), signal.SIGKILL)


@dataclass(frozen=True)
class Seen:
    """One job as one read of the listing showed it."""

    phase: str  # "before the kill" or "after the restart"
    job_id: str
    status: str
    started_at: str | None


def listing(http: httpx.Client, phase: str, history: list[Seen]) -> dict[str, dict[str, Any]]:
    """Every job of the (fresh) database, by id, each noted in ``history``."""
    response = http.get("/api/v1/jobs", params={"limit": 100})
    assert response.status_code == 200, response.text
    jobs: list[dict[str, Any]] = response.json()["data"]["jobs"]
    history.extend(Seen(phase, j["id"], j["status"], j["started_at"]) for j in jobs)
    return {j["id"]: j for j in jobs}


def test_jobs_claimed_but_not_started_run_exactly_once_after_kill_minus_nine(
    tmp_path: Path, env: dict[str, str], services: list[Service], sshd_factory: SshdFactory
) -> None:
    """The reported case: a 10 s job on one server, then 12 `sleep 1; echo x >> FILE` jobs on another, and kill -9
    of the service while the worker has claimed some of the 12 but not yet started them on their target (its sshd
    holds new connections unanswered: a server slow to answer). After the restart every one of the 12 completes and
    wrote its file exactly once; none is failed as interrupted, and the 10 s job is re-attached. Before the kill,
    the claimed ones showed `starting` (no start time), and no job ever showed `running` without a start time."""
    slow_target, long_target = sshd_factory(), sshd_factory()
    prefix = f"claimed-{uuid.uuid4().hex[:8]}"
    files = [slow_target.user.home / f"{prefix}-{n}" for n in range(12)]
    ledger = f"ledger-{uuid.uuid4().hex}"
    history: list[Seen] = []
    first = Service.start(tmp_path, env)
    services.append(first)
    with httpx.Client(base_url=first.base_url, timeout=30) as http:
        long_job = submit(http, server(http, long_target.target), ticker(ledger, lines=20, exit_code=0))
        wait_for(http, long_job, printed(1))
        slow_target.pause_accepting()
        slow_server = server(http, slow_target.target)
        short_jobs = [submit(http, slow_server, f"sleep 1; echo x >> ~/{path.name}") for path in files]
        # Claimed by a worker: no longer queued. None can have started: no connection to its sshd is answered.
        claimed = wait_until(
            lambda: [
                i
                for i, j in listing(http, "before the kill", history).items()
                if i in short_jobs and j["status"] != "queued"
            ],
            30,
            "a worker to claim jobs of the slow server",
            0.05,
        )
        first.kill_all()
    assert not any(path.exists() for path in files)  # none had started
    slow_target.resume_accepting()  # the slow handshake is over

    second = Service.start(tmp_path, env)  # same data dir or database: the same jobs
    services.append(second)
    with httpx.Client(base_url=second.base_url, timeout=30) as http:
        ends = wait_until(
            lambda: listing(http, "after the restart", history),
            END_WITHIN,
            "every job to end",
            0.1,
            done=lambda jobs: all(finished(j) for j in jobs.values()),
        )
        long_end = job(http, long_job)
    outcomes = [(ends[i]["status"], ends[i]["failure_reason"], ends[i]["error"]) for i in short_jobs]
    written = [path.read_text() if path.exists() else None for path in files]
    summary = f"{len(claimed)} claimed before the kill; ends: {dict(Counter(outcomes))}; files: {written}"
    assert outcomes == [("completed", None, None)] * 12, summary
    assert written == ["x\n"] * 12, summary  # each ran, once
    assert (long_end["status"], long_end["stdout"]) == ("completed", expected_stdout(20))
    assert (long_target.user.home / ledger).read_text() == "start\ndone\n"
    # running means started on the target: never without a start time (and none of the slow server's before the
    # kill, when none had started); claimed but not started is `starting`, without a start time.
    assert [s for s in history if s.status == "running" and s.started_at is None] == []
    assert [s for s in history if s.status in ("queued", "starting") and s.started_at is not None] == []
    before = [s for s in history if s.phase == "before the kill" and s.job_id in claimed]
    assert [s for s in before if s.status == "running"] == [], f"{len(claimed)} claimed, shown as running"
    assert {s.status for s in before} >= {"starting"}
