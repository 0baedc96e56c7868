"""The ways a secret reaches Ansible without a file: a run's secret socket (only its handle, only the service's
uid, only while the run lasts) and an imported inventory's text (a memory-only file)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.inventories.parse import parse_inventory
from app.runner import secret_client
from app.runner.secret_client import NoSecret, fetch
from app.runner.secret_socket import SecretSocket

NOBODY = 65534


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A directory any user may enter (tmp_path may not be): a socket in it reachable by another uid, so that
    only the socket's own check stands between that uid and a secret."""
    path = Path(tempfile.mkdtemp(prefix="nr-secret-socket-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _askpass(
    open_dir: Path, sock: Path, handle: str, prompt: str, *, uid: int | None = None
) -> subprocess.CompletedProcess[str]:
    client = open_dir / "secret_client.py"
    shutil.copy(secret_client.__file__, client)
    client.chmod(0o644)
    as_user = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"] if uid is not None else []
    python = "/usr/bin/python3" if uid is not None else sys.executable
    env = {"PATH": "/usr/bin:/bin", "NR_SECRET_SOCKET": str(sock), "NR_SECRET_HANDLE": handle}
    argv = [*as_user, python, "-I", str(client), prompt]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30, check=False)


def test_the_secret_socket_answers_its_handles_to_its_uid_while_it_is_open(open_dir: Path) -> None:
    path = open_dir / "s"
    served = SecretSocket(path)
    try:
        password, other = "pa ss'\"word", "sudo-pw"
        handle = served.handle_for(password)
        assert served.handle_for(password) == handle != served.handle_for(other)
        assert password not in handle
        assert fetch(str(path), handle) == password
        assert fetch(str(path), served.handle_for(other)) == other
        for wrong in ("0" * 32, handle[:-1], handle + "0", "", "x" * 5000):
            with pytest.raises(NoSecret):
                fetch(str(path), wrong)
        # As ssh's askpass helper: the password for a password prompt, nothing for any other question.
        asked = _askpass(open_dir, path, handle, "nrtest@127.0.0.1's password: ")
        assert (asked.returncode, asked.stdout) == (0, password + "\n")
        hostkey = _askpass(open_dir, path, handle, "Are you sure you want to continue connecting (yes/no)? ")
        assert (hostkey.returncode, hostkey.stdout) == (1, "")
        # Another uid reaches the socket (made world-writable here) and still gets nothing.
        path.chmod(0o777)
        foreign = _askpass(open_dir, path, handle, "password: ", uid=NOBODY)
        assert (foreign.returncode, foreign.stdout) == (1, ""), foreign.stderr
        assert fetch(str(path), handle) == password  # the socket still serves its own uid
    finally:
        served.close()
    assert not path.exists()
    with pytest.raises(NoSecret):
        fetch(str(path), handle)


def test_an_imported_inventory_never_reaches_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    password = "inventory-pw-" + os.urandom(8).hex()
    seen: list[str] = []
    scans = 0
    stop = threading.Event()

    def watch() -> None:
        nonlocal scans
        while not stop.is_set():
            # os.walk, not rglob: a directory Ansible removes while it is walked is skipped, not an error.
            for directory, _, names in os.walk(temp):
                for name in names:
                    path = Path(directory) / name
                    try:
                        if path.is_file() and password.encode() in path.read_bytes():
                            seen.append(str(path))
                    except OSError:
                        continue
            scans += 1

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        parsed = parse_inventory(f"[web]\nweb01 ansible_host=10.0.0.1 ansible_password={password}\n", "ini")
    finally:
        stop.set()
        watcher.join()
    assert parsed.hosts[0].vars["ansible_password"].value == password
    assert scans > 10 and seen == []
