"""Restarts lose nothing: kill -9 and SIGTERM while jobs run, then a new start re-attaches to them."""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.e2e.jobs_api import finished, server, submit, wait_for
from tests.harness.fixtures import SshdFactory
from tests.harness.processes import live_processes_mentioning
from tests.harness.service import Service
from tests.harness.sshd import SshTarget
from tests.jobs_helpers import seconds_between

pytestmark = pytest.mark.slow

TICKER = 'for i in $(seq 1 24); do echo "line $i"; echo "err $i" >&2; sleep 0.25; done'
EXPECTED_STDOUT = "".join(f"line {i}\n" for i in range(1, 25))
EXPECTED_STDERR = "".join(f"err {i}\n" for i in range(1, 25))


@pytest.fixture
def env(control_root: Path) -> dict[str, str]:
    # The tests poll jobs ten times a second: more than the default rate limit allows.
    return {
        "NEWREMORA_WORKERS": "2",
        "NEWREMORA_CONTROL_DIR": tempfile.mkdtemp(dir=control_root),
        "NEWREMORA_RATE_LIMIT": "0",
    }


def test_kill_minus_nine_then_restart_reattaches_and_runs_nothing_twice(
    tmp_path: Path, env: dict[str, str], services: list[Service], sshd: SshTarget, sshd_factory: SshdFactory
) -> None:
    ledger = f"ledger-{uuid.uuid4().hex}"
    doomed_sshd = sshd_factory()
    first = Service.start(tmp_path, env)
    services.append(first)
    with httpx.Client(base_url=first.base_url, timeout=30) as http:
        target = server(http, sshd)
        ticker = submit(http, target, f"echo run >> ~/{ledger}; {TICKER}")
        lost = submit(http, server(http, doomed_sshd.target), "sleep 30")
        wait_for(http, ticker, lambda j: j["stdout"].count("\n") >= 4)
        wait_for(http, lost, lambda j: j["status"] == "running")
        first.kill_all()

    doomed_sshd.stop()  # this target is gone for good: its job cannot be re-attached
    # Same data dir (the same database); the unreachable target is given up on 3 s after contact was lost.
    second = Service.start(tmp_path, {**env, "NEWREMORA_RECONNECT_GRACE": "3"})
    services.append(second)
    # The killed service's Ansible processes (their own sessions, so the kill missed them) were ended at start.
    assert live_processes_mentioning(f"/var/runs/run-{first.process.pid}-") == []
    with httpx.Client(base_url=second.base_url, timeout=30) as http:
        queued_after = submit(http, target, "echo after-restart")
        done = wait_for(http, ticker, finished)
        assert done["status"] == "completed", done
        assert done["stdout"] == EXPECTED_STDOUT  # every line once: nothing lost, nothing repeated
        assert done["stderr"] == EXPECTED_STDERR
        assert wait_for(http, queued_after, finished)["stdout"] == "after-restart\n"
        interrupted = wait_for(http, lost, finished)
        assert (interrupted["status"], interrupted["failure_reason"]) == ("failed", "interrupted")
        assert interrupted["error"].endswith("the command may still be running there"), interrupted["error"]
        assert seconds_between(interrupted["contact_lost_at"], interrupted["finished_at"]) >= 3
    assert (sshd.user.home / ledger).read_text() == "run\n"  # the job ran exactly once


def test_sigterm_leaves_jobs_running_and_the_next_start_finishes_them(
    tmp_path: Path, env: dict[str, str], services: list[Service], sshd: SshTarget
) -> None:
    first = Service.start(tmp_path, env)
    services.append(first)
    with httpx.Client(base_url=first.base_url, timeout=30) as http:
        target = server(http, sshd)
        ticker = submit(http, target, TICKER)
        wait_for(http, ticker, lambda j: j["stdout"].count("\n") >= 4)
        stopped_at = time.monotonic()
        assert first.terminate(timeout=30) == 0
        assert time.monotonic() - stopped_at < 30  # within the grace period
    # No Ansible process left behind on the controller (they run in sessions of their own).
    assert live_processes_mentioning(str(tmp_path)) == []

    second = Service.start(tmp_path, env)
    services.append(second)
    with httpx.Client(base_url=second.base_url, timeout=30) as http:
        done = wait_for(http, ticker, finished)
    assert (done["status"], done["stdout"], done["stderr"]) == ("completed", EXPECTED_STDOUT, EXPECTED_STDERR)


def test_a_stalled_worker_thread_is_replaced_and_its_job_reattached(
    tmp_path: Path, env: dict[str, str], services: list[Service], sshd: SshTarget
) -> None:
    ledger = f"ledger-{uuid.uuid4().hex}"
    service = Service.start(tmp_path, {**env, "NEWREMORA_STALL_TIMEOUT": "10"})
    services.append(service)
    long_ticker = 'for i in $(seq 1 60); do echo "line $i"; sleep 0.25; done'
    with httpx.Client(base_url=service.base_url, timeout=30) as http:
        job_id = submit(http, server(http, sshd), f"echo run >> ~/{ledger}; {long_ticker}")
        wait_for(http, job_id, lambda j: j["stdout"].count("\n") >= 2)
        # Freeze the Ansible run of this job: its worker thread hears nothing more, as if it hung.
        frozen = [p.pid for p in live_processes_mentioning(str(tmp_path)) if "ansible-playbook" in p.args]
        assert frozen
        for pid in frozen:
            os.kill(pid, signal.SIGSTOP)
        try:
            done = wait_for(http, job_id, finished, timeout=90)
        finally:
            for pid in frozen:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)
    assert done["status"] == "completed", done
    assert done["stdout"] == "".join(f"line {i}\n" for i in range(1, 61))
    assert (sshd.user.home / ledger).read_text() == "run\n"
    assert "stalled for 10 s" in service.log()
