"""Admin commands (token, import-inventory, health, migrate) on the service's own database, and the data dir private.

Run as an operator runs them: the real ``newremora`` in a directory of its own, with or without the service's
settings. They name the database they use, never make one by accident (a second, empty ``./var``), and say
exactly what to run instead; everything the service and they create in the data dir is 0700/0600 whatever the
umask.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet

from tests.e2e.jobs_api import finished, server, submit, wait_for
from tests.harness.postgres import PostgresCluster
from tests.harness.service import NEWREMORA, Service
from tests.harness.sshd import SshTarget

pytestmark = pytest.mark.slow


def run(*args: str, cwd: Path, env: dict[str, str], umask: int | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("NEWREMORA_")}
    return subprocess.run(
        [NEWREMORA, *args],
        env={**full_env, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        preexec_fn=None if umask is None else (lambda: os.umask(umask)),
    )


def test_admin_commands_elsewhere_name_the_database_and_never_create_one(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    inventory = tmp_path / "hosts.ini"
    inventory.write_text("web-01 ansible_host=127.0.0.1 ansible_user=deploy ansible_password=pw\n")
    missing = elsewhere / "var" / "newremora.db"
    for args in (
        ("token", "create", "--name", "ops"),
        ("token", "list"),
        ("token", "revoke", "nr_abc"),
        ("import-inventory", str(inventory)),
    ):
        done = run(*args, cwd=elsewhere, env={})
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert f"using database: {missing} (NEWREMORA_DATA_DIR={elsewhere / 'var'})" in done.stderr
        assert f"no database at {missing}" in done.stderr, done.stderr
        assert "NEWREMORA_DATA_DIR" in done.stderr and "cd to the directory where the service runs" in done.stderr
        assert f"NEWREMORA_DATA_DIR={elsewhere / 'var'} newremora migrate" in done.stderr
        assert "Traceback" not in done.stderr and "no such table" not in done.stderr
        assert not (elsewhere / "var").exists(), args  # no second, disconnected database
    health = run("health", cwd=elsewhere, env={})
    assert health.returncode == 1 and "unhealthy: no database at" in health.stdout
    assert not (elsewhere / "var").exists()

    # The service's data dir, named: the same database from any directory.
    data_dir = tmp_path / "service-data"
    made = run("token", "create", "--name", "ops", "--create", cwd=elsewhere, env={"NEWREMORA_DATA_DIR": str(data_dir)})
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip().splitlines()[-1]
    assert key.startswith("nr_") and f"using database: {data_dir / 'newremora.db'}" in made.stderr
    listed = run("token", "list", cwd=tmp_path, env={"NEWREMORA_DATA_DIR": str(data_dir)})
    assert listed.returncode == 0 and key[:10] in listed.stdout, listed.stderr
    imported = run("import-inventory", str(inventory), cwd=elsewhere, env={"NEWREMORA_DATA_DIR": str(data_dir)})
    assert imported.returncode == 0 and "created   web-01" in imported.stdout, imported.stderr

    # A database file that exists but was never migrated (an empty one an older version left): migrate, named.
    empty_dir = tmp_path / "empty"
    empty_dir.mkdir()
    sqlite3.connect(empty_dir / "newremora.db").close()
    behind = run("token", "create", "--name", "x", cwd=elsewhere, env={"NEWREMORA_DATA_DIR": str(empty_dir)})
    assert behind.returncode == 2
    assert "does not have the current schema" in behind.stderr
    assert f"NEWREMORA_DATA_DIR={empty_dir} newremora migrate" in behind.stderr
    assert run("migrate", cwd=elsewhere, env={"NEWREMORA_DATA_DIR": str(empty_dir)}).returncode == 0
    after = run("token", "create", "--name", "x", cwd=elsewhere, env={"NEWREMORA_DATA_DIR": str(empty_dir)})
    assert after.returncode == 0, after.stderr


@pytest.fixture
def empty_pg_url(pg_cluster: PostgresCluster) -> Iterator[str]:
    name = f"e2e_{uuid.uuid4().hex[:12]}"
    pg_cluster.create_database(name)
    yield pg_cluster.url(name)
    pg_cluster.drop_database(name)


def test_admin_commands_on_an_unmigrated_postgresql_say_migrate_with_its_url(tmp_path: Path, empty_pg_url: str) -> None:
    env = {
        "NEWREMORA_DATABASE_URL": empty_pg_url,
        "NEWREMORA_SECRET_KEY": Fernet.generate_key().decode(),
    }
    inventory = tmp_path / "hosts.ini"
    inventory.write_text("web-01 ansible_host=127.0.0.1 ansible_user=deploy ansible_password=pw\n")
    for args in (("token", "create", "--name", "ops"), ("token", "list"), ("import-inventory", str(inventory))):
        done = run(*args, cwd=tmp_path, env=env)
        assert done.returncode == 2, (args, done.stderr)
        assert f"using database: {empty_pg_url} (NEWREMORA_DATABASE_URL)" in done.stderr
        assert "does not have the current schema" in done.stderr
        assert f"NEWREMORA_DATABASE_URL='{empty_pg_url}' newremora migrate" in done.stderr
        assert not (tmp_path / "var").exists()
    made = run("token", "create", "--name", "ops", "--create", cwd=tmp_path, env=env)
    assert made.returncode == 0, made.stderr
    # The line naming the database never shows its password.
    hidden = run(
        "token", "list", cwd=tmp_path, env={"NEWREMORA_DATABASE_URL": "postgresql://u:pw-hidden@127.0.0.1:1/x"}
    )
    assert hidden.returncode == 2 and "using database: postgresql://u:***@127.0.0.1:1/x" in hidden.stderr
    assert "pw-hidden" not in hidden.stderr + hidden.stdout
    listed = run("token", "list", cwd=tmp_path, env=env)
    assert listed.returncode == 0 and made.stdout.strip().splitlines()[-1][:10] in listed.stdout


def loose_paths(root: Path) -> list[str]:
    """Every directory or file under ``root`` (itself included) with a group or other bit."""
    found = []
    for path in [root, *root.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        if not path.is_symlink() and mode & 0o077:
            found.append(f"{path.relative_to(root.parent)} {mode:o}")
    return found


@pytest.mark.parametrize("umask", [0o022, 0o000])
def test_the_data_dir_and_database_files_are_private_whatever_the_umask(
    umask: int, tmp_path: Path, services: list[Service], sshd: SshTarget, control_root: Path
) -> None:
    data_dir = tmp_path / "data"
    env = {
        "NEWREMORA_DATA_DIR": str(data_dir),
        "NEWREMORA_CONTROL_DIR": tempfile.mkdtemp(dir=control_root),
        "NEWREMORA_WORKERS": "1",
        "NEWREMORA_RATE_LIMIT": "0",
    }
    # A loose directory holding other files is not the service's to change (a relative default run from / is /var).
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o755)
    (shared / "notes.txt").write_text("not NewRemora's\n")
    refused = run("migrate", cwd=tmp_path, env={**env, "NEWREMORA_DATA_DIR": str(shared)}, umask=umask)
    assert refused.returncode == 2 and "holds files that are not NewRemora's" in refused.stderr, refused.stderr
    assert stat.S_IMODE(shared.stat().st_mode) == 0o755 and not (shared / "newremora.db").exists()

    migrated = run("migrate", cwd=tmp_path, env=env, umask=umask)
    assert migrated.returncode == 0, migrated.stderr
    assert loose_paths(data_dir) == []

    # An older version's files: the data dir and the database readable by everyone; the service tightens them.
    data_dir.chmod(0o755)
    (data_dir / "newremora.db").chmod(0o644)
    previous = os.umask(umask)  # the service process inherits it
    try:
        service = Service.start(tmp_path, env)
    finally:
        os.umask(previous)
    services.append(service)
    with httpx.Client(base_url=service.base_url, timeout=30) as http:
        server_id = server(http, sshd)
        job_id = submit(http, server_id, "echo hello")
        assert wait_for(http, job_id, finished)["status"] == "completed"
        # A script job too: its file is made by a process under umask 077 and must still run on the target.
        script = http.post("/api/v1/jobs/script", json={"server_id": server_id, "script": "echo from a script"})
        assert script.status_code == 201, script.text
        assert wait_for(http, script.json()["data"]["id"], finished)["status"] == "completed"
        body = {"content": "web-09 ansible_host=127.0.0.1 ansible_user=deploy ansible_password=pw\n", "format": "ini"}
        assert http.post("/api/v1/inventories/import", json=body).status_code == 200
    inventory = tmp_path / "hosts.ini"
    inventory.write_text("web-10 ansible_host=127.0.0.1 ansible_user=deploy ansible_password=pw\n")
    imported = run("import-inventory", str(inventory), cwd=tmp_path, env=env, umask=umask)
    assert imported.returncode == 0, imported.stderr
    assert (data_dir / "newremora.db-wal").exists()  # the jobs wrote through the WAL, still open by the service
    assert loose_paths(data_dir) == []
    assert "open to other users (mode 644)" in service.log()
