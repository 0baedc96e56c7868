"""A full disk under the SQLite database: /health says so, the log says so once, and nothing is lost once space
is back."""

from __future__ import annotations

import errno
import os
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.harness.processes import kill_processes_mentioning
from tests.harness.service import Service
from tests.harness.sshd import SshTarget
from tests.harness.wait import wait_until

pytestmark = pytest.mark.slow

FS_SIZE = "8m"
LINES = 30
EXPECTED_STDOUT = "".join(f"line {i}\n" for i in range(1, LINES + 1))
# What the service logs when the state changes (app/db.py, Writability).
UNWRITABLE_LINE = "database unwritable"
WRITABLE_LINE = "database writable again"


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A mounted 8 MiB tmpfs: the service's data dir on a filesystem a test can fill."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small filesystem needs root")
    mount_point = tmp_path / "small-fs"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={FS_SIZE}", "tmpfs", str(mount_point)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        # The test asks for this fixture before `services`, whose services are stopped first; the Ansible runs
        # live in sessions of their own, under the data dir.
        kill_processes_mentioning(str(mount_point))
        unmount(mount_point)


def unmount(mount_point: Path) -> None:
    """Unmount once the last processes using it have exited (killed ones take a moment); never leave it behind."""
    try:
        wait_until(
            lambda: subprocess.run(["umount", str(mount_point)], capture_output=True).returncode == 0,
            30,
            "the small filesystem to unmount",
            0.2,
        )
    except AssertionError:
        subprocess.run(["umount", "--lazy", str(mount_point)], check=True)


def fill(directory: Path) -> Path:
    """A file taking every free byte of ``directory``'s filesystem."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for size in (64 * 1024, 4096, 1):  # then what still fits in the last pages
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
    finally:
        os.close(fd)
    return filler


def heartbeat_age(http: httpx.Client) -> float:
    """Seconds since the service's worker last stored its heartbeat."""
    workers = http.get("/api/v1/system/enhanced").json()["data"]["worker_status"]["workers"]
    last = datetime.fromisoformat(workers[0]["heartbeat_at"].replace("Z", "+00:00"))
    return (datetime.now(UTC) - last).total_seconds()


def health(base_url: str) -> tuple[int, dict[str, Any]]:
    response = httpx.get(f"{base_url}/health", timeout=10)
    return response.status_code, response.json()


def test_a_full_disk_is_reported_once_and_loses_nothing(
    small_fs: Path, services: list[Service], sshd: SshTarget, gate: Path, control_root: Path, tmp_path: Path
) -> None:
    data_dir = small_fs / "data"
    env = {
        "NEWREMORA_DATA_DIR": str(data_dir),
        "NEWREMORA_WORKERS": "2",
        "NEWREMORA_CONTROL_DIR": tempfile.mkdtemp(dir=control_root),
        "NEWREMORA_RATE_LIMIT": "0",
        # Ansible's run directory is on the full disk too: Ansible stalls when it cannot write its event files,
        # and the supervisor re-attaches the job once its run has been silent this long.
        "NEWREMORA_STALL_TIMEOUT": "10",
    }
    service = Service.start(tmp_path / "service", env)
    services.append(service)
    ledger = f"ledger-{uuid.uuid4().hex}"
    ran_out = sshd.user.home / f"done-{uuid.uuid4().hex}"
    go = gate / "go"
    # Three lines, then (once the disk is full) the rest, written while nothing can be stored.
    command = (
        f"echo run >> ~/{ledger}; for i in 1 2 3; do echo line $i; done; "
        f"while [ ! -e {go} ]; do sleep 0.1; done; "
        f"for i in $(seq 4 {LINES}); do echo line $i; sleep 0.02; done; touch {ran_out}"
    )
    with httpx.Client(base_url=service.base_url, timeout=30) as http:
        response = http.post("/api/v1/servers", json=sshd.server_body(f"df-{uuid.uuid4().hex[:8]}"))
        assert response.status_code == 201, response.text
        server_id = response.json()["data"]["id"]
        response = http.post("/api/v1/jobs", json={"server_id": server_id, "command": command})
        assert response.status_code == 201, response.text
        job_id = response.json()["data"]["id"]

        def job() -> dict[str, Any]:
            response = http.get(f"/api/v1/jobs/{job_id}")
            assert response.status_code == 200, response.text
            data: dict[str, Any] = response.json()["data"]
            return data

        wait_until(job, 60, "the first three lines stored", 0.1, done=lambda j: j["stdout"].count("\n") >= 3)

        filler = fill(small_fs)
        go.touch()
        wait_until(ran_out.exists, 60, "the job to run to its end on the target", 0.1)

        _, body = wait_until(
            lambda: health(service.base_url),
            30,
            "/health to report the database unwritable",
            0.1,
            done=lambda answer: answer[0] == 503,
        )
        assert body["status"] == "unhealthy", body
        assert body["database"] == "unwritable", body
        assert "no space left on device" in body["database_error"], body
        # Reads still answer; the job is still running (its end cannot be stored yet).
        assert job()["status"] == "running"
        refused = http.post("/api/v1/jobs", json={"server_id": server_id, "command": "echo refused"})
        assert refused.status_code == 503, refused.text
        assert "no space left on device" in refused.json()["error"], refused.text
        listed = http.get("/api/v1/jobs").json()
        assert [item["id"] for item in listed["data"]["jobs"]] == [job_id]  # the refused submission created nothing

        # Keep it full while the worker's heartbeats are refused (tried every 0.5 s once one fails): a line for
        # each try would show in the log.
        wait_until(lambda: heartbeat_age(http), 30, "refused heartbeats", 0.2, done=lambda age: age > 4)

        filler.unlink()
        _, body = wait_until(
            lambda: health(service.base_url), 30, "/health to recover", 0.1, done=lambda answer: answer[0] == 200
        )
        assert body["database"] == "connected", body

        done = wait_until(job, 90, "the job to end", 0.1, done=lambda j: j["status"] != "running")
        assert done["status"] == "completed", done
        assert done["stdout"] == EXPECTED_STDOUT  # every line, once
        info = http.get("/api/v1/system/info").json()["data"]
        assert (info["total_jobs"], info["running_jobs"], info["completed_jobs"]) == (1, 0, 1), info
        after = http.post("/api/v1/jobs", json={"server_id": server_id, "command": "echo after"})
        assert after.status_code == 201, after.text

    assert (sshd.user.home / ledger).read_text() == "run\n"  # it ran once
    assert service.terminate(timeout=30) == 0
    log = service.log()
    assert log.count(UNWRITABLE_LINE) == 1, log
    assert log.count(WRITABLE_LINE) == 1, log
    # No other line about it: not one per refused request, heartbeat, claim or retry.
    about_it = [line for line in log.splitlines() if "unwritable" in line.lower() or "no space" in line.lower()]
    assert len(about_it) == 1, about_it
    assert "cannot rollback" not in log, log
    assert "left running" not in log, log
