"""``newremora serve`` behind a real Hypercorn: what `make run` gives a newcomer."""

from __future__ import annotations

import os
import stat
import subprocess
import uuid
from pathlib import Path

import httpx
import pytest

from tests.harness.postgres import PostgresCluster
from tests.harness.service import NEWREMORA, Service
from tests.harness.wait import wait_until

pytestmark = pytest.mark.slow


def test_embedded_default_serves_the_api_and_stops_on_sigterm(tmp_path: Path, services: list[Service]) -> None:
    service = Service.start(tmp_path)  # no setting at all: the embedded default in ./var
    services.append(service)
    key_file = tmp_path / "var" / "secret.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert (tmp_path / "var" / "newremora.db").is_file()

    with httpx.Client(base_url=service.base_url, timeout=10) as http:
        created = http.post(
            "/api/v1/servers",
            json={
                "name": "web-01",
                "hostname": "127.0.0.1",
                "user": "deploy",
                "auth_type": "password",
                "password": "e2e-secret-value",
            },
            headers={"X-Request-ID": "e2e-create-1"},
        )
        assert created.status_code == 201, created.text
        assert created.headers["content-type"].startswith("application/json")
        assert created.headers["X-Request-ID"] == "e2e-create-1"
        server_id = created.json()["data"]["id"]
        assert http.get(f"/api/v1/servers/{server_id}").json()["data"]["name"] == "web-01"
        assert http.get("/openapi.json").json()["paths"]["/api/v1/servers"]

    assert service.terminate() == 0
    log = service.log()
    assert "request_id=e2e-create-1" in log and "POST /api/v1/servers -> 201" in log
    create_line = next(line for line in log.splitlines() if "request_id=e2e-create-1" in line and " -> " in line)
    assert create_line.endswith(" from 127.0.0.1")  # the socket's peer: no proxy is trusted by default
    assert "e2e-secret-value" not in log

    # The data survives a restart with the same data dir and the key file it made.
    again = Service.start(tmp_path)
    services.append(again)
    listed = httpx.get(f"{again.base_url}/api/v1/servers", timeout=10).json()["data"]["servers"]
    assert [s["name"] for s in listed] == ["web-01"]


def test_postgresql_needs_migrate_then_serves(
    tmp_path: Path, services: list[Service], pg_cluster: PostgresCluster
) -> None:
    name = f"e2e_{uuid.uuid4().hex[:12]}"
    pg_cluster.create_database(name)
    env = {
        "NEWREMORA_DATABASE_URL": pg_cluster.url(name),
        "NEWREMORA_SECRET_KEY": "bm90LWEtcmVhbC1rZXktYnV0LTMyLWJ5dGVzLWxvbmc=",
    }
    try:
        with pytest.raises(RuntimeError, match="run `newremora migrate`"):
            services.append(Service.start(tmp_path, env))
        migrate = subprocess.run(
            [NEWREMORA, "migrate"], env={**os.environ, **env}, cwd=tmp_path, capture_output=True, text=True, timeout=60
        )
        assert migrate.returncode == 0, migrate.stderr
        assert "0001_initial, 0002_api_keys, 0003_job_attempt" in migrate.stdout
        service = Service.start(tmp_path, env)
        services.append(service)
        assert httpx.get(f"{service.base_url}/health", timeout=10).json()["database"] == "connected"
        assert service.terminate() == 0
    finally:
        pg_cluster.drop_database(name)


def test_invalid_settings_stop_the_start_with_a_clear_message(tmp_path: Path) -> None:
    env = {**os.environ, "NEWREMORA_PORT": "http", "NEWREMORA_DATA_DIR": str(tmp_path)}
    result = subprocess.run([NEWREMORA, "serve"], env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "NEWREMORA_PORT: expected an integer" in result.stderr
    bad_key = {**os.environ, "NEWREMORA_SECRET_KEY": "short", "NEWREMORA_DATA_DIR": str(tmp_path)}
    result = subprocess.run([NEWREMORA, "serve"], env=bad_key, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "NEWREMORA_SECRET_KEY" in result.stderr and "short" not in result.stderr
    unreachable = {**os.environ, "NEWREMORA_DATABASE_URL": "postgresql://u:pw-hidden@127.0.0.1:1/x"}
    result = subprocess.run(
        [NEWREMORA, "serve"], env=unreachable, cwd=tmp_path, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2
    assert "Database unavailable" in result.stderr and "Connection refused" in result.stderr
    assert "pw-hidden" not in result.stderr and "Traceback" not in result.stderr


def test_api_keys_made_with_the_cli_protect_the_api(tmp_path: Path, services: list[Service]) -> None:
    def newremora(*args: str) -> str:
        result = subprocess.run(
            [NEWREMORA, *args],
            env={**os.environ, "NEWREMORA_DATA_DIR": str(tmp_path / "var")},
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    service = Service.start(tmp_path)
    services.append(service)
    assert httpx.get(f"{service.base_url}/api/v1/servers", timeout=10).status_code == 200  # open: no key yet
    created = newremora("token", "create", "--name", "ci")
    key = created.strip().splitlines()[-1]
    assert key.startswith("nr_")
    listing = newremora("token", "list")
    assert "ci" in listing and key[:10] in listing and key not in listing

    service.wait_for_keys(401)  # a key made by another process closes the API within a second
    refused = httpx.get(f"{service.base_url}/api/v1/servers", timeout=10)
    assert refused.status_code == 401 and refused.json()["success"] is False
    allowed = httpx.get(f"{service.base_url}/api/v1/servers", headers={"Authorization": f"Bearer {key}"}, timeout=10)
    assert allowed.status_code == 200
    assert httpx.get(f"{service.base_url}/health", timeout=10).status_code == 200

    newremora("token", "create", "--name", "other")  # so that the API stays closed after the revoke
    assert "revoked" in newremora("token", "revoke", key[:10])
    service.wait_for_keys(401, key=key)  # revoked by another process: refused within a second
    again = httpx.get(f"{service.base_url}/api/v1/servers", headers={"Authorization": f"Bearer {key}"}, timeout=10)
    assert again.status_code == 401 and again.json()["success"] is False


def test_worker_process_health_and_graceful_stop(
    tmp_path: Path, services: list[Service], pg_env: dict[str, str]
) -> None:
    def health(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [NEWREMORA, "health", *args],
            env={**os.environ, **pg_env},
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )

    assert health().returncode == 0
    assert health("--worker").returncode == 1  # no worker process yet
    worker = Service.start(tmp_path / "worker", pg_env, ("worker", "--threads", "2"))
    services.append(worker)
    checked = wait_until(
        lambda: health("--worker"), 30, "`newremora health --worker` to pass", 0.2, done=lambda c: c.returncode == 0
    )
    assert "1 live worker process" in checked.stdout
    assert worker.terminate(timeout=30) == 0  # SIGTERM: graceful
    assert health("--worker").returncode == 1  # a stopped worker is not counted as live
