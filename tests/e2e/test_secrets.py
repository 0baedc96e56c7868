"""Secrets stay in the service: not in responses, output, streams, logs, argv, the database or files."""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.harness.processes import all_processes
from tests.harness.service import Service
from tests.harness.sse import collect, joined
from tests.harness.sshd import SshTarget

pytestmark = pytest.mark.slow


@pytest.fixture
def service(tmp_path: Path, control_root: Path) -> Iterator[Service]:
    env = {
        "NEWREMORA_WORKERS": "2",
        "NEWREMORA_CONTROL_DIR": tempfile.mkdtemp(dir=control_root),
        "NEWREMORA_RATE_LIMIT": "0",
        "NEWREMORA_LOG_LEVEL": "debug",
        # JSON escapes what it writes: the secrets are looked for in the decoded records too.
        "NEWREMORA_LOG_FORMAT": "json",
    }
    started = Service.start(tmp_path, env)
    yield started
    started.stop()


class ArgvWatch:
    """Samples every process's command line while jobs run, looking for the secrets."""

    def __init__(self, secrets: list[str]) -> None:
        self.secrets = secrets
        self.seen: list[str] = []
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for process in all_processes():
                if any(secret in process.args for secret in self.secrets):
                    self.seen.append(process.args)
            self.samples += 1
            self._stop.wait(0.02)

    def __enter__(self) -> ArgvWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def test_secrets_never_leave_the_service(service: Service, sshd: SshTarget, tmp_path: Path) -> None:
    user = sshd.user
    password, passphrase = user.password, user.passphrase
    key_line = user.encrypted_private_key.splitlines()[3]
    # The password sits in a file on the target, so the job can print it without the job text containing it.
    secret_file = user.home / f"pw-{os.getpid()}.txt"
    secret_file.write_text(password + "\n")
    os.chown(secret_file, *_owner(user.home))
    secrets = [password, passphrase, key_line]

    with httpx.Client(base_url=service.base_url, timeout=60) as http, ArgvWatch(secrets) as watch:
        common = {"hostname": sshd.host, "port": sshd.port, "user": user.name}
        by_password = http.post(
            "/api/v1/servers", json={**common, "name": "pw", "auth_type": "password", "password": password}
        )
        by_key = http.post(
            "/api/v1/servers",
            json={
                **common,
                "name": "key",
                "auth_type": "key",
                "private_key": user.encrypted_private_key,
                "passphrase": passphrase,
            },
        )
        assert by_password.status_code == by_key.status_code == 201
        responses = [by_password.text, by_key.text, http.get("/api/v1/servers").text]
        # The password server's job prints its own password (masked); the key server's job just runs.
        jobs = [
            (by_password, f"cat ~/{secret_file.name}; cat ~/{secret_file.name} >&2"),
            (by_key, "echo key-ok"),
        ]
        for server, command in jobs:
            body = {"server_id": server.json()["data"]["id"], "command": command}
            job_id = http.post("/api/v1/jobs", json=body).json()["data"]["id"]
            streamed = collect_sync(service.base_url, job_id)
            detail = http.get(f"/api/v1/jobs/{job_id}").json()["data"]
            assert detail["status"] == "completed", detail
            responses += [streamed, http.get(f"/api/v1/jobs/{job_id}/logs").text, str(detail)]
        assert responses[3] == "********\n********\n"  # what the stream showed of the echoed password
    assert watch.samples > 10 and watch.seen == []  # no process ever had a secret in its argv
    assert service.terminate() == 0  # its runs end, and what they held on disk goes with them

    database = sqlite3.connect(tmp_path / "var" / "newremora.db")
    dump = "\n".join(database.iterdump())
    database.close()
    records = [json.loads(line) for line in service.log().splitlines() if line.strip()]
    logged = "\n".join(str(value) for record in records for value in record.values())
    files = "".join(
        p.read_text(errors="replace")
        for p in (tmp_path / "var").rglob("*")
        if p.is_file() and p.suffix not in (".db", ".key") and "-wal" not in p.name and "-shm" not in p.name
    )
    for secret in secrets:
        for response in responses:
            assert secret not in response
        assert secret not in service.log()
        assert secret not in logged
        assert secret not in dump
        assert secret not in files
    assert not list((tmp_path / "var" / "runs").glob("run-*"))  # key material existed only during runs


def _owner(path: Path) -> tuple[int, int]:
    info = path.stat()
    return info.st_uid, info.st_gid


def collect_sync(base_url: str, job_id: str) -> str:
    import asyncio

    async def read() -> str:
        async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
            received = await collect(client, f"/api/v1/jobs/{job_id}/stream")
        return joined(received, "stdout") + joined(received, "stderr")

    return asyncio.run(read())
