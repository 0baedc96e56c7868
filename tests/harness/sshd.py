"""Throwaway OpenSSH servers and a test OS user for integration tests.

Requires root (useradd, chpasswd, binding sshd's privilege separation) and
the packages installed by tests/harness/install-system-deps.sh.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import signal
import socket
import string
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.harness.net import free_port
from tests.harness.wait import wait_until

SSHD_BIN = "/usr/sbin/sshd"
READY_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0
_PORT_ATTEMPTS = 5


@dataclass(frozen=True)
class TestUser:
    __test__ = False  # not a test class, despite the name (pytest collection)

    name: str
    password: str
    home: Path
    private_key_path: Path
    private_key: str
    public_key: str
    encrypted_key_path: Path
    encrypted_private_key: str
    passphrase: str


@dataclass
class SshTarget:
    """One throwaway sshd and its user, as a server of the API sees it."""

    host: str
    port: int
    host_public_key: str
    user: TestUser
    log_path: Path

    def server_body(self, name: str) -> dict[str, Any]:
        """The body of POST /api/v1/servers for this target, with password authentication."""
        return {
            "name": name,
            "hostname": self.host,
            "port": self.port,
            "user": self.user.name,
            "auth_type": "password",
            "password": self.user.password,
        }


def _secret(length: int = 24) -> str:
    # Alphanumeric only: the value ends up in chpasswd input, env vars and
    # possibly command lines, where punctuation would need escaping.
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


def _run(cmd: list[str], *, input: str | None = None) -> None:
    result = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({result.returncode}): {result.stderr.strip()}")


def _keygen(path: Path, passphrase: str, comment: str) -> None:
    # ssh-keygen prompts before overwriting, so clear any leftover first.
    path.unlink(missing_ok=True)
    path.with_name(path.name + ".pub").unlink(missing_ok=True)
    _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-C", comment, "-f", str(path)])


def _public_key(private_key_path: Path) -> str:
    # Keep "type base64" only; the comment is noise for comparisons.
    fields = private_key_path.with_name(private_key_path.name + ".pub").read_text().split()
    return " ".join(fields[:2])


def remove_test_user(user: TestUser) -> None:
    """Remove the user, its home and anything it still runs (jobs a test left detached)."""
    subprocess.run(["pkill", "-KILL", "-u", user.name], check=False, timeout=10)
    subprocess.run(["userdel", "--force", "--remove", user.name], check=False, timeout=30, capture_output=True)


def ensure_test_user(workdir: Path, name: str = "nrtest") -> TestUser:
    """Create (or refresh) an OS user reachable by password and by two keys."""
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        _run(["useradd", "-m", "-s", "/bin/bash", name])
        entry = pwd.getpwnam(name)
    if entry.pw_shell != "/bin/bash":
        # Ansible and the tests assume a POSIX login shell.
        _run(["usermod", "-s", "/bin/bash", name])
    # A fresh password every session: nothing stale can accidentally work.
    # It also unlocks the account, which sshd requires even for key logins
    # when PAM is off.
    password = _secret()
    _run(["chpasswd"], input=f"{name}:{password}\n")

    key_path = workdir / f"{name}_ed25519"
    _keygen(key_path, "", f"{name}@newremora-tests")
    passphrase = _secret()
    encrypted_path = workdir / f"{name}_ed25519_encrypted"
    _keygen(encrypted_path, passphrase, f"{name}-encrypted@newremora-tests")
    public_key = _public_key(key_path)

    home = Path(entry.pw_dir)
    ssh_dir = home / ".ssh"
    ssh_dir.mkdir(mode=0o700, exist_ok=True)
    authorized = ssh_dir / "authorized_keys"
    authorized.write_text(f"{public_key}\n{_public_key(encrypted_path)}\n")
    for path, mode in ((home, 0o755), (ssh_dir, 0o700), (authorized, 0o600)):
        os.chown(path, entry.pw_uid, entry.pw_gid)
        os.chmod(path, mode)

    return TestUser(
        name=name,
        password=password,
        home=home,
        private_key_path=key_path,
        private_key=key_path.read_text(),
        public_key=public_key,
        encrypted_key_path=encrypted_path,
        encrypted_private_key=encrypted_path.read_text(),
        passphrase=passphrase,
    )


@dataclass(frozen=True)
class SudoRights:
    """A second throwaway user that the test user may become through sudo, with the test user's password."""

    become_user: str
    sudoers_path: Path


SUDOERS_DIR = Path("/etc/sudoers.d")


def grant_sudo(user: TestUser, become_user: str) -> SudoRights:
    """Create ``become_user`` and a sudoers drop-in letting ``user`` (and only it) run commands as that user
    (and only that one), password required. Checked with visudo before it is put in place."""
    _run(["useradd", "-m", "-s", "/bin/bash", become_user])
    path = SUDOERS_DIR / f"newremora-test-{user.name}"
    staging = SUDOERS_DIR / f".newremora-test-{user.name}.tmp"  # sudo ignores names containing a dot
    staging.write_text(f"{user.name} ALL=({become_user}) ALL\n")
    os.chmod(staging, 0o440)
    try:
        _run(["visudo", "-c", "-q", "-f", str(staging)])
        staging.rename(path)
    finally:
        staging.unlink(missing_ok=True)
    return SudoRights(become_user=become_user, sudoers_path=path)


def revoke_sudo(rights: SudoRights) -> None:
    rights.sudoers_path.unlink(missing_ok=True)
    subprocess.run(["pkill", "-KILL", "-u", rights.become_user], check=False, timeout=10)
    subprocess.run(["userdel", "--force", "--remove", rights.become_user], check=False, timeout=30, capture_output=True)


def _proc_stat(pid: int) -> tuple[int, int] | None:
    """(parent pid, start time) of a live process, None if it is gone."""
    try:
        # comm may contain spaces and parentheses: split after the last ")".
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[1]), int(fields[19])
    except (OSError, IndexError, ValueError):
        return None


def _descendants(pid: int) -> dict[int, int]:
    """Map of descendant pid -> start time (to detect pid reuse later)."""
    # sshd forks one monitor per connection and each calls setsid(), so
    # killing sshd's process group would miss them; walk /proc instead.
    children: dict[int, list[tuple[int, int]]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _proc_stat(int(entry.name))) is not None:
            children.setdefault(stat[0], []).append((int(entry.name), stat[1]))
    found: dict[int, int] = {}
    todo = [pid]
    while todo:
        for child, started in children.get(todo.pop(), []):
            found[child] = started
            todo.append(child)
    return found


def _is_sshd(pid: int) -> bool:
    """Whether a process runs the sshd binary (a connection's monitor or its session child), not a user command."""
    try:
        return os.readlink(f"/proc/{pid}/exe") == SSHD_BIN
    except OSError:
        return False


def _gone(pid: int, started: int) -> bool:
    """Whether the process has exited (a zombie has: its sockets are closed) or the pid was reused."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return True
    return fields[0] in ("Z", "X") or int(fields[19]) != started


def _signal(pid: int, sig: signal.Signals, started: int | None = None) -> None:
    if started is not None and (stat := _proc_stat(pid)) is not None and stat[1] != started:
        return  # the pid now belongs to an unrelated process
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


class SshdStartError(RuntimeError):
    pass


class _PortInUse(SshdStartError):
    pass


class Sshd:
    """One sshd listening on 127.0.0.1 with a throwaway host key."""

    def __init__(self, workdir: Path, user: TestUser, port: int, max_sessions: int | None) -> None:
        self.workdir = workdir
        self.user = user
        self.port = port
        self.max_sessions = max_sessions
        self.config_path = workdir / "sshd_config"
        self.host_key_path = workdir / "ssh_host_ed25519_key"
        self.log_path = workdir / "sshd.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @classmethod
    def start(cls, workdir: Path, user: TestUser, *, max_sessions: int | None = None) -> Sshd:
        # sshd re-execs itself per connection and resolves relative paths
        # against "/", so everything in the config must be absolute.
        workdir = workdir.resolve()
        workdir.mkdir(parents=True, exist_ok=True)
        for attempt in range(_PORT_ATTEMPTS):
            server = cls(workdir, user, free_port(), max_sessions)
            server._generate_host_key()
            try:
                server._launch()
                return server
            except _PortInUse:
                if attempt == _PORT_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    @property
    def target(self) -> SshTarget:
        return SshTarget(
            host="127.0.0.1",
            port=self.port,
            host_public_key=_public_key(self.host_key_path),
            user=self.user,
            log_path=self.log_path,
        )

    def restart_with_new_host_key(self) -> None:
        """Simulate a reinstalled server: same address, different identity."""
        self.stop()
        self._generate_host_key()
        self._launch()

    def drop_connections(self) -> int:
        """Cut every open connection, as a crash of the sshd serving it would, leaving the listener up: SIGKILL to
        the sshd processes below the listener (each connection's monitor and its session child), not to the
        commands they run. Returns how many processes were killed, once all of them have exited (their sockets
        are closed: the clients see the connection end)."""
        if self._proc is None or self._proc.poll() is not None:
            raise SshdStartError(f"sshd on 127.0.0.1:{self.port} is not running")
        victims = {pid: started for pid, started in _descendants(self._proc.pid).items() if _is_sshd(pid)}
        for pid, started in victims.items():
            _signal(pid, signal.SIGKILL, started)
        wait_until(
            lambda: all(_gone(pid, started) for pid, started in victims.items()),
            STOP_TIMEOUT,
            f"the connections of sshd on 127.0.0.1:{self.port} to end",
        )
        return len(victims)

    def pause_accepting(self) -> None:
        """New connections wait, accepted by the kernel but not answered (no SSH banner), until resume_accepting():
        a server slow to answer (SIGSTOP of the listener). Connections already open go on: their own processes
        serve them. A client gives up after its ConnectTimeout."""
        if self._proc is None or self._proc.poll() is not None:
            raise SshdStartError(f"sshd on 127.0.0.1:{self.port} is not running")
        self._proc.send_signal(signal.SIGSTOP)

    def resume_accepting(self) -> None:
        """The waiting connections are answered, in the order they came (those whose client gave up fail)."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGCONT)

    def start_again(self) -> None:
        """Start a stopped sshd again as it was: the same port and the same host key, so that clients which trust
        it connect again (a reboot of the server, not a reinstall: see restart_with_new_host_key). Fails with
        SshdStartError if another process took the port meanwhile."""
        if self._proc is not None and self._proc.poll() is None:
            raise SshdStartError(f"sshd on 127.0.0.1:{self.port} is still running: stop() it first")
        self._launch()

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        # Open sessions (e.g. an ssh ControlMaster) would outlive the
        # listener and keep talking with the old host key.
        victims = _descendants(proc.pid)
        proc.terminate()
        proc.send_signal(signal.SIGCONT)  # a paused listener (pause_accepting) acts on its SIGTERM now
        for pid, started in victims.items():
            _signal(pid, signal.SIGTERM, started)
        try:
            proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        # Whatever ignored SIGTERM meanwhile (e.g. a user command) goes now.
        for pid, started in victims.items():
            _signal(pid, signal.SIGKILL, started)

    def _generate_host_key(self) -> None:
        _keygen(self.host_key_path, "", "newremora-test-host")

    def _write_config(self) -> None:
        lines = [
            f"Port {self.port}",
            "ListenAddress 127.0.0.1",
            f"HostKey {self.host_key_path}",
            f"PidFile {self.workdir / 'sshd.pid'}",
            # Shadow passwords are checked directly; PAM would need its own
            # service config and may refuse sessions inside containers.
            "UsePAM no",
            # Host keys and homes live under pytest's tmp dirs.
            "StrictModes no",
            "PasswordAuthentication yes",
            "PubkeyAuthentication yes",
            "KbdInteractiveAuthentication no",
            "AuthorizedKeysFile .ssh/authorized_keys",
            "PermitRootLogin no",
            f"AllowUsers {self.user.name}",
            # Parallel Ansible runs open many connections at once; the
            # default 10:30:100 would randomly drop them.
            "MaxStartups 100:30:200",
            # Not depending on the sftp-server binary path; Ansible uses
            # sftp for file transfer.
            "Subsystem sftp internal-sftp",
            "PrintMotd no",
            "PrintLastLog no",
            "UseDNS no",
            "LogLevel VERBOSE",
        ]
        if self.max_sessions is not None:
            lines.append(f"MaxSessions {self.max_sessions}")
        self.config_path.write_text("\n".join(lines) + "\n")

    def _launch(self) -> None:
        # /run is a tmpfs: the privilege separation dir vanishes on reboot.
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        self._write_config()
        check = subprocess.run(
            [SSHD_BIN, "-t", "-f", str(self.config_path)],
            capture_output=True,
            text=True,
            timeout=30,
        )
        if check.returncode != 0:
            raise SshdStartError(f"sshd rejected {self.config_path}:\n{check.stdout}{check.stderr}")
        log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self._proc = subprocess.Popen(
            [SSHD_BIN, "-D", "-e", "-f", str(self.config_path), "-E", str(self.log_path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            self._wait_ready(log_offset)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, log_offset: int) -> None:
        def answers() -> bool:
            assert self._proc is not None
            if self._proc.poll() is not None:
                log = self._log_since(log_offset)
                error = _PortInUse if "Address already in use" in log else SshdStartError
                raise error(f"sshd exited with {self._proc.returncode}:\n{log}")
            return _answers_ssh(self.port)

        try:
            wait_until(answers, READY_TIMEOUT, f"sshd to answer on 127.0.0.1:{self.port}")
        except AssertionError as timed_out:
            raise SshdStartError(
                f"sshd not answering on 127.0.0.1:{self.port} after {READY_TIMEOUT}s:\n" + self._log_since(log_offset)
            ) from timed_out

    def _log_since(self, offset: int, max_chars: int = 4000) -> str:
        try:
            with self.log_path.open(errors="replace") as log:
                log.seek(offset)
                return log.read()[-max_chars:]
        except FileNotFoundError:
            return "(no log written)"


def _answers_ssh(port: int) -> bool:
    # A bare TCP accept is not enough: the banner proves it is *our* sshd
    # speaking SSH, not a half-started process or another service.
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
            sock.settimeout(1.0)
            return sock.recv(64).startswith(b"SSH-2.0")
    except OSError:
        return False


def require_binaries() -> None:
    """Fail loudly (never skip) when the system packages are missing."""
    needed = [SSHD_BIN, "ssh", "ssh-keygen", "sshpass"]
    missing = [b for b in needed if shutil.which(b) is None]
    if missing:
        raise RuntimeError(f"missing {', '.join(missing)}: run tests/harness/install-system-deps.sh as root")
