"""Proves the test harness itself: real sshd logins and a real PostgreSQL."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
from pathlib import Path

from tests.harness.fixtures import SshdFactory
from tests.harness.postgres import PostgresCluster
from tests.harness.processes import live_processes_mentioning
from tests.harness.sshd import SshTarget
from tests.harness.wait import wait_until

TIMEOUT = 30


def _known_hosts(path: Path, target: SshTarget) -> Path:
    # Non-default ports are recorded as "[host]:port" by OpenSSH.
    path.write_text(f"[{target.host}]:{target.port} {target.host_public_key}\n")
    return path


def _clean_env() -> dict[str, str]:
    # An ssh-agent of whoever runs the tests must not supply keys.
    return {k: v for k, v in os.environ.items() if k not in ("SSH_AUTH_SOCK", "SSHPASS")}


def _ssh_argv(target: SshTarget, known_hosts: Path, **options: str) -> list[str]:
    options = {
        "StrictHostKeyChecking": "yes",
        "UserKnownHostsFile": str(known_hosts),
        "GlobalKnownHostsFile": "/dev/null",
        "ConnectTimeout": "10",
        **options,
    }
    # -F /dev/null: the invoking user's ~/.ssh/config must not interfere.
    argv = ["ssh", "-F", "/dev/null", "-p", str(target.port)]
    for name, value in options.items():
        argv += ["-o", f"{name}={value}"]
    return [*argv, f"{target.user.name}@{target.host}", "echo $USER"]


def _key_login(target: SshTarget, known_hosts: Path, key: Path) -> subprocess.CompletedProcess[str]:
    argv = _ssh_argv(target, known_hosts, BatchMode="yes", IdentitiesOnly="yes", IdentityFile=str(key))
    return subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT, env=_clean_env())


def _password_login(target: SshTarget, known_hosts: Path, password: str) -> subprocess.CompletedProcess[str]:
    # No BatchMode here: it would disable the password prompt sshpass answers.
    argv = _ssh_argv(
        target,
        known_hosts,
        PubkeyAuthentication="no",
        PreferredAuthentications="password",
        NumberOfPasswordPrompts="1",
    )
    # The password travels in the environment, never in argv (visible in ps).
    env = {**_clean_env(), "SSHPASS": password}
    return subprocess.run(["sshpass", "-e", *argv], capture_output=True, text=True, timeout=TIMEOUT, env=env)


def test_key_login(sshd: SshTarget, tmp_path: Path) -> None:
    known_hosts = _known_hosts(tmp_path / "known_hosts", sshd)
    result = _key_login(sshd, known_hosts, sshd.user.private_key_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == sshd.user.name
    assert sshd.host == "127.0.0.1"
    assert sshd.host_public_key.startswith("ssh-ed25519 AAAA")
    assert "BEGIN OPENSSH PRIVATE KEY" in sshd.user.private_key


def test_password_login(sshd: SshTarget, tmp_path: Path) -> None:
    known_hosts = _known_hosts(tmp_path / "known_hosts", sshd)
    ok = _password_login(sshd, known_hosts, sshd.user.password)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == sshd.user.name

    bad = _password_login(sshd, known_hosts, sshd.user.password + "x")
    assert bad.returncode != 0
    assert sshd.user.name not in bad.stdout


def test_passphrase_protected_key(sshd: SshTarget, tmp_path: Path) -> None:
    user = sshd.user
    derived = subprocess.run(
        ["ssh-keygen", "-y", "-P", user.passphrase, "-f", str(user.encrypted_key_path)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert derived.returncode == 0, derived.stderr
    pub = user.encrypted_key_path.with_name(user.encrypted_key_path.name + ".pub")
    assert derived.stdout.split()[:2] == pub.read_text().split()[:2]

    wrong = subprocess.run(
        ["ssh-keygen", "-y", "-P", "wrong", "-f", str(user.encrypted_key_path)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert wrong.returncode != 0

    # Unlock a copy and log in with it: proves the server accepts this key.
    unlocked = tmp_path / "unlocked_key"
    shutil.copyfile(user.encrypted_key_path, unlocked)
    unlocked.chmod(0o600)
    subprocess.run(
        ["ssh-keygen", "-q", "-p", "-P", user.passphrase, "-N", "", "-f", str(unlocked)],
        check=True,
        capture_output=True,
        timeout=TIMEOUT,
    )
    result = _key_login(sshd, _known_hosts(tmp_path / "known_hosts", sshd), unlocked)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == user.name


def test_postgres_database_lifecycle(pg_cluster: PostgresCluster) -> None:
    pg_cluster.create_database("harness_check")
    try:
        assert pg_cluster.execute("select 1", dbname="harness_check") == [(1,)]
        assert pg_cluster.url("harness_check") == (f"postgresql://postgres@127.0.0.1:{pg_cluster.port}/harness_check")
    finally:
        pg_cluster.drop_database("harness_check")
    rows = pg_cluster.execute("select 1 from pg_database where datname = 'harness_check'")
    assert rows == []


def test_postgres_restart_keeps_port_and_data(pg_cluster: PostgresCluster) -> None:
    pg_cluster.create_database("harness_restart")
    try:
        pg_cluster.execute("create table t (v int); insert into t values (42)", "harness_restart")
        port = pg_cluster.port
        pg_cluster.restart()
        assert pg_cluster.port == port
        assert pg_cluster.execute("select v from t", dbname="harness_restart") == [(42,)]
    finally:
        pg_cluster.drop_database("harness_restart")


def test_restart_with_new_host_key(sshd_factory: SshdFactory, tmp_path: Path) -> None:
    server = sshd_factory(max_sessions=2)
    before = server.target
    old_known_hosts = _known_hosts(tmp_path / "old_known_hosts", before)
    first = _key_login(before, old_known_hosts, before.user.private_key_path)
    assert first.returncode == 0, first.stderr

    server.restart_with_new_host_key()
    after = server.target
    assert after.port == before.port
    assert after.host_public_key != before.host_public_key

    mismatch = _key_login(after, old_known_hosts, after.user.private_key_path)
    assert mismatch.returncode == 255
    assert "Host key verification failed" in mismatch.stderr

    new_known_hosts = _known_hosts(tmp_path / "new_known_hosts", after)
    again = _key_login(after, new_known_hosts, after.user.private_key_path)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == after.user.name


def test_drop_connections_cuts_open_sessions_and_leaves_the_listener_up(
    sshd_factory: SshdFactory, tmp_path: Path
) -> None:
    server = sshd_factory()
    target = server.target
    known_hosts = _known_hosts(tmp_path / "known_hosts", target)
    marker = f"nr-held-{secrets.token_hex(4)}"
    argv = _ssh_argv(
        target, known_hosts, BatchMode="yes", IdentitiesOnly="yes", IdentityFile=str(target.user.private_key_path)
    )
    # The remote command: say it runs, then wait under a name of its own (to find it below).
    argv[-1] = f"echo ready; exec -a {marker} sleep 30"
    try:
        with subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=_clean_env()
        ) as client:
            try:
                assert client.stdout is not None
                assert client.stdout.readline() == "ready\n"  # the session is open
                assert server.drop_connections() >= 1
                assert client.wait(timeout=TIMEOUT) == 255  # the client saw its connection die
            finally:
                client.kill()  # only if a check above failed: it has exited otherwise
        # Only sshd's own processes were killed: the command the session ran goes on.
        assert [p for p in live_processes_mentioning(marker) if p.args.startswith(marker)]
    finally:
        for process in live_processes_mentioning(marker):
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGKILL)
    again = _key_login(target, known_hosts, target.user.private_key_path)
    assert again.returncode == 0, again.stderr  # the listener is still up
    assert again.stdout.strip() == target.user.name


def test_stop_then_start_again_keeps_port_and_host_key(sshd_factory: SshdFactory, tmp_path: Path) -> None:
    server = sshd_factory()
    before = server.target
    known_hosts = _known_hosts(tmp_path / "known_hosts", before)
    assert _key_login(before, known_hosts, before.user.private_key_path).returncode == 0

    server.stop()
    down = _key_login(before, known_hosts, before.user.private_key_path)
    assert down.returncode == 255
    assert "Connection refused" in down.stderr

    server.start_again()
    after = server.target
    assert (after.port, after.host_public_key) == (before.port, before.host_public_key)
    again = _key_login(after, known_hosts, after.user.private_key_path)  # the known_hosts entry still matches
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == after.user.name


def _established_to(port: int) -> int:
    """Connections to 127.0.0.1:``port`` in state ESTABLISHED, accepted or waiting in the listener's queue."""
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        if local == f"0100007F:{port:04X}" and state == "01":
            count += 1
    return count


def test_pause_accepting_holds_new_connections_until_resumed(sshd_factory: SshdFactory, tmp_path: Path) -> None:
    server = sshd_factory()
    target = server.target
    known_hosts = _known_hosts(tmp_path / "known_hosts", target)
    key = str(target.user.private_key_path)
    server.pause_accepting()
    try:
        impatient = _ssh_argv(target, known_hosts, BatchMode="yes", IdentitiesOnly="yes", IdentityFile=key)
        impatient[impatient.index("ConnectTimeout=10")] = "ConnectTimeout=1"
        held = subprocess.run(impatient, capture_output=True, text=True, timeout=TIMEOUT, env=_clean_env())
        assert held.returncode == 255
        assert "banner exchange" in held.stderr  # connected, and never answered
        argv = _ssh_argv(target, known_hosts, BatchMode="yes", IdentitiesOnly="yes", IdentityFile=key)
        with subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_clean_env()
        ) as waiting:
            wait_until(lambda: _established_to(target.port) >= 1, TIMEOUT, "the login to wait in sshd's queue")
            server.resume_accepting()
            stdout, stderr = waiting.communicate(timeout=TIMEOUT)
    finally:
        server.resume_accepting()
    assert waiting.returncode == 0, stderr
    assert stdout.strip() == target.user.name
