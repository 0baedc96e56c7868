"""No secret is ever in a file: not in the data dir, the run directories, the service's TMPDIR, the SSH control
directory or /dev/shm, at any moment of runs of every authentication kind, nor after a kill -9 of the service."""

from __future__ import annotations

import os
import stat
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.jobs_api import job, submit, wait_for
from tests.harness.processes import live_processes_mentioning
from tests.harness.service import Service
from tests.harness.sshd import SshTarget, SudoRights
from tests.harness.wait import wait_until

pytestmark = pytest.mark.slow

PLAYBOOKS = Path(__file__).resolve().parents[1] / "playbooks"
SHM = Path("/dev/shm")
# Any private key in clear, whatever its form (ours is unlocked in the service: its lines are not the file's).
PEM_MARK = b"PRIVATE KEY-----"


class DiskWatch:
    """Reads every file of ``places`` again and again, from before the first run to after the last."""

    def __init__(self, places: list[Path], secrets: list[str], pem_places: list[Path]) -> None:
        self.places = places
        self.secrets = [secret.encode() for secret in secrets]
        self.pem_places = [str(place) for place in pem_places]
        self.seen: set[str] = set()
        self.scans = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _files(self) -> Iterator[Path]:
        for place in self.places:
            for root, _, names in os.walk(place):
                for name in names:
                    yield Path(root) / name

    def scan(self) -> None:
        with self._lock:
            for path in self._files():
                try:
                    if not stat.S_ISREG(path.lstat().st_mode):
                        continue  # sockets, links
                    data = path.read_bytes()
                except OSError:
                    continue  # gone meanwhile
                if any(secret in data for secret in self.secrets):
                    self.seen.add(f"{path}: a secret")
                if PEM_MARK in data and str(path).startswith(tuple(self.pem_places)):
                    self.seen.add(f"{path}: a private key")
            self.scans += 1

    def _run(self) -> None:
        while not self._stop.is_set():
            self.scan()

    def __enter__(self) -> DiskWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def agents(tmp_path: Path) -> list[str]:
    return [p.args for p in live_processes_mentioning(str(tmp_path)) if p.args.startswith("ssh-agent")]


def _key_lines(pem: str) -> list[str]:
    return [line for line in pem.splitlines() if line and "-----" not in line]


def test_no_secret_on_disk_during_runs_nor_after_a_kill(
    tmp_path: Path, sshd: SshTarget, sudo_rights: SudoRights, control_root: Path
) -> None:
    user = sshd.user
    temp = tmp_path / "tmp"
    temp.mkdir()
    control = Path(tempfile.mkdtemp(dir=control_root))
    env = {
        "NEWREMORA_WORKERS": "8",
        "NEWREMORA_CONTROL_DIR": str(control),
        "NEWREMORA_RATE_LIMIT": "0",
        "NEWREMORA_PLAYBOOK_DIR": str(PLAYBOOKS),
        "TMPDIR": str(temp),
    }
    secrets = [user.password, user.passphrase, *_key_lines(user.private_key), *_key_lines(user.encrypted_private_key)]
    service = Service.start(tmp_path, env)  # its data dir: tmp_path/var
    try:
        watch = DiskWatch([tmp_path, control, SHM], secrets, pem_places=[tmp_path, control])
        with watch, httpx.Client(base_url=service.base_url, timeout=60) as http:
            common = {"hostname": sshd.host, "port": sshd.port, "user": user.name}
            become = {"become": True, "become_user": sudo_rights.become_user}
            credential = http.post("/api/v1/credentials", json={"name": "ops", "password": user.password})
            assert credential.status_code == 201, credential.text
            bodies: dict[str, dict[str, Any]] = {
                "password": {"auth_type": "password", "password": user.password},
                "key": {"auth_type": "key", "private_key": user.private_key},
                "passphrase": {
                    "auth_type": "key",
                    "private_key": user.encrypted_private_key,
                    "passphrase": user.passphrase,
                },
                "become": {
                    "auth_type": "password",
                    "password": user.password,
                    **become,
                    "become_password": user.password,
                },
                "credential": {"auth_type": "password", "credential_id": credential.json()["data"]["id"]},
            }
            servers = {}
            for kind, body in bodies.items():
                created = http.post("/api/v1/servers", json={**common, "name": f"disk-{kind}", **body})
                assert created.status_code == 201, created.text
                servers[kind] = created.json()["data"]["id"]
            # Server checks (playbooks/check.yml), one per kind.
            for kind, server_id in servers.items():
                checked = http.post(f"/api/v1/servers/{server_id}/test").json()["data"]
                assert checked["status"] == "connected", (kind, checked)
            # The checks' runs are over: their ssh-agents ended with them.
            wait_until(lambda: not agents(tmp_path), 5, "the ssh-agents of ended runs to end", 0.05)
            # Command jobs of each kind, and a playbook job with become; all still running when the service dies.
            jobs = {kind: submit(http, server_id, "echo started; sleep 120") for kind, server_id in servers.items()}
            body = {"server_id": servers["become"], "playbook": "pause.yml", "extra_vars": {"pause_seconds": 120}}
            playbook = http.post("/api/v1/jobs/playbook", json=body)
            assert playbook.status_code == 201, playbook.text
            jobs["playbook"] = playbook.json()["data"]["id"]
            for kind, job_id in jobs.items():
                state = wait_for(http, job_id, lambda s: s["status"] in ("running", "completed", "failed"))
                assert state["status"] == "running", (kind, state)
            # A cancel (playbooks/cancel.yml) connects too.
            canceled = submit(http, servers["become"], "sleep 120")
            wait_for(http, canceled, lambda s: s["status"] == "running")
            assert http.post(f"/api/v1/jobs/{canceled}/cancel").status_code in (200, 202)
            assert wait_for(http, canceled, lambda s: s["status"] in ("canceled", "failed"))["status"] == "canceled"
            assert job(http, jobs["become"])["status"] == "running"
            watch.scan()  # a whole pass while all of them run
            assert agents(tmp_path)  # the runs of the key jobs have theirs

            service.kill_all()  # kill -9 mid-run: what is left on disk stays until the next start
            watch.scan()
            # The runs' ssh-agents end without the service (they held the keys in memory).
            wait_until(lambda: not agents(tmp_path), 30, "the ssh-agents of the killed service to end", 0.2)
            watch.scan()
        assert list((tmp_path / "var" / "runs").glob("run-*"))  # the killed service's run dirs were searched
        assert watch.scans > 3
        assert sorted(watch.seen) == []
    finally:
        service.stop()
