"""Users and their keys through the real commands and a real service: the first administrator made with
``newremora user create``, keys of users with ``newremora token create --user``, a user disabled from the shell
shut out of the running service, and a service that refuses to serve an open API beyond loopback."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet

from tests.harness.service import NEWREMORA, Service
from tests.harness.wait import wait_until

pytestmark = pytest.mark.slow

PASSWORD = "a long enough test passphrase 42"


def run(*args: str, env: dict[str, str], cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("NEWREMORA_")}
    return subprocess.run(
        [NEWREMORA, *args], env={**full_env, **env}, cwd=cwd, input=stdin, capture_output=True, text=True, timeout=120
    )


def ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, (done.args, done.stdout, done.stderr)
    assert PASSWORD not in done.stdout + done.stderr
    return done.stdout


def test_the_first_administrator_and_keys_of_users_come_from_the_cli(
    tmp_path: Path, database_url: str, db_kind: str
) -> None:
    env = {
        "NEWREMORA_DATA_DIR": str(tmp_path / "var"),
        "NEWREMORA_DATABASE_URL": database_url,
        "NEWREMORA_SECRET_KEY": Fernet.generate_key().decode(),
        "NEWREMORA_RATE_LIMIT": "0",
    }
    # No user and no key: serving beyond loopback is refused before anything listens.
    refused = run("serve", env={**env, "NEWREMORA_HOST": "0.0.0.0", "NEWREMORA_PORT": "1"}, cwd=tmp_path)  # noqa: S104
    assert refused.returncode == 2, refused.stderr
    assert "refusing to serve on 0.0.0.0: no user and no API key exists" in refused.stderr
    assert "newremora user create NAME --role admin" in refused.stderr

    ok(run("user", "create", "alice", "--role", "admin", "--password-file", "-", env=env, cwd=tmp_path, stdin=PASSWORD))
    too_short = run(
        "user", "create", "eve", "--role", "viewer", "--password-file", "-", env=env, cwd=tmp_path, stdin="short"
    )
    assert too_short.returncode == 2 and "password: must have 12 to 1024 characters" in too_short.stderr
    ok(run("user", "create", "bob", "--role", "operator", "--no-password", env=env, cwd=tmp_path))
    bob_key = ok(run("token", "create", "--name", "ci", "--user", "bob", "--role", "viewer", env=env, cwd=tmp_path))
    bob_key = bob_key.strip().splitlines()[-1]
    wider = run("token", "create", "--name", "x", "--user", "bob", "--role", "admin", env=env, cwd=tmp_path)
    assert wider.returncode == 2 and "cannot have more rights than its owner" in wider.stderr
    alice_key = ok(
        run("token", "create", "--name", "a", "--user", "alice", "--expires", "2099-01-01", env=env, cwd=tmp_path)
    )
    alice_key = alice_key.strip().splitlines()[-1]
    listing = ok(run("token", "list", env=env, cwd=tmp_path))
    assert "bob" in listing and "viewer" in listing and "expires 2099-01-01" in listing

    service = Service.start(tmp_path / "svc", env=env)
    try:
        base = service.base_url + "/api/v1"
        me = httpx.get(f"{base}/me", headers={"Authorization": f"Bearer {bob_key}"}, timeout=10).json()["data"]
        assert (me["role"], me["user"]["username"], me["user"]["role"]) == ("viewer", "bob", "operator")
        job = httpx.post(f"{base}/jobs", json={}, headers={"Authorization": f"Bearer {bob_key}"}, timeout=10)
        assert job.status_code == 403 and job.json()["error"] == "this needs the operator role; the caller is viewer"
        assert httpx.get(f"{base}/servers", timeout=10).status_code == 401
        users = httpx.get(f"{base}/users", headers={"Authorization": f"Bearer {alice_key}"}, timeout=10).json()
        assert {(u["username"], u["has_password"]) for u in users["data"]["users"]} == {("alice", True), ("bob", False)}

        ok(run("user", "disable", "bob", env=env, cwd=tmp_path))
        service.wait_for_keys(401, key=bob_key)  # within LIVE_KEYS_TTL_S: another process changed it
        password_file = tmp_path / "password"
        password_file.write_text(PASSWORD + "\n")
        ok(run("user", "set-password", "bob", "--password-file", str(password_file), env=env, cwd=tmp_path))
        listed = ok(run("user", "list", env=env, cwd=tmp_path))
        assert "bob" in listed and "disabled" in listed and "alice" in listed
        ok(run("user", "enable", "bob", env=env, cwd=tmp_path))
        wait_until(
            lambda: httpx.get(f"{base}/me", headers={"Authorization": f"Bearer {bob_key}"}, timeout=10).status_code,
            30,
            "bob's key to work again",
            done=lambda status: status == 200,
        )
        assert PASSWORD not in service.log() and bob_key not in service.log() and alice_key not in service.log()
    finally:
        service.stop()
