"""A run's own ssh-agent: private keys reach ssh through it, never through a file.

Keys are added with ``ssh-add -`` from a pipe (a passphrase-protected key arrives already unlocked, see
app/keys.py, so no passphrase ever leaves the service). Each target offers only its own key: its ssh is given the
agent's socket and the key's PUBLIC half as IdentityFile (public, so it may be a file). The agent ends with the
run; if the service is killed it ends too: ssh-agent watches the process it was started with (a ``sleep`` that
gets SIGKILL when its parent, the thread running the run, dies), and a later start removes whatever is left
(app/runner/run_dir.py ``remove_stale_runs``).
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from pathlib import Path
from typing import Final

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

START_TIMEOUT_S: Final = 10.0
ENV: Final = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}


def public_key_line(private_key: str) -> str:
    """The OpenSSH public key of an unlocked private key (OpenSSH or PEM)."""
    data = private_key.encode()
    key: serialization.SSHPrivateKeyTypes | PrivateKeyTypes
    if b"OPENSSH PRIVATE KEY" in data:
        key = serialization.load_ssh_private_key(data, password=None)
    else:
        key = serialization.load_pem_private_key(data, password=None)
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return public.decode() + "\n"


class Agent:
    def __init__(self, socket_path: Path) -> None:
        self.socket_path = socket_path
        # With a command, ssh-agent forks: the command keeps this pid and the agent exits soon after it ends.
        self._watched = subprocess.Popen(
            ["ssh-agent", "-a", str(socket_path), "setpriv", "--pdeathsig", "KILL", "--", "sleep", "infinity"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=ENV,
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while not socket_path.exists():
            if self._watched.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("ssh-agent did not start")
            time.sleep(0.01)

    def add(self, private_key: str) -> bool:
        """False if ssh-add refused the key (checked when it was stored: then ssh fails to authenticate, and the
        job says so)."""
        text = private_key if private_key.endswith("\n") else private_key + "\n"
        completed = subprocess.run(
            ["ssh-add", "-q", "-"],
            input=text.encode(),
            capture_output=True,
            env={**ENV, "SSH_AUTH_SOCK": str(self.socket_path)},
            timeout=START_TIMEOUT_S,
            check=False,
        )
        return completed.returncode == 0

    def stop(self) -> None:
        """Ends the watched process (the agent follows it); the caller also kills the agent itself by its socket's
        path in its command line, at once."""
        with contextlib.suppress(ProcessLookupError):
            self._watched.kill()
        self._watched.wait()
