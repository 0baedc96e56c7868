"""Asks a run's secret socket (app/runner/secret_socket.py) for the secret of a handle. Standard library only:
it also runs as ssh's askpass helper, in a fresh interpreter (``python -I``), for every password prompt.

As askpass: ``python -I secret_client.py PROMPT`` with NR_SECRET_SOCKET and NR_SECRET_HANDLE in the environment
prints the secret for a password prompt, and fails for any other question ssh might ask (a host key to accept),
so that a question is never answered with a password.
"""

from __future__ import annotations

import os
import socket
import sys
from typing import Final

TIMEOUT_S: Final = 10.0
# ssh asks "user@host's password: "; "Password:" from keyboard-interactive.
PASSWORD_PROMPT: Final = "assword"  # noqa: S105 (a prompt)


class NoSecret(Exception):
    """The socket is gone (the run ended), refused this process, or does not know the handle."""


def fetch(socket_path: str, handle: str) -> str:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(TIMEOUT_S)
        try:
            client.connect(socket_path)
            client.sendall(handle.encode("ascii") + b"\n")
            received = b""
            while chunk := client.recv(65536):
                received += chunk
        except (OSError, UnicodeEncodeError) as exc:
            raise NoSecret(f"secret socket: {exc.__class__.__name__}") from None
    if not received:
        raise NoSecret("secret socket: no answer for this handle")
    return received.decode()


def askpass(argv: list[str]) -> int:
    prompt = argv[1] if len(argv) > 1 else ""
    if PASSWORD_PROMPT not in prompt:
        return 1
    try:
        secret = fetch(os.environ["NR_SECRET_SOCKET"], os.environ["NR_SECRET_HANDLE"])
    except (KeyError, NoSecret):
        return 1
    sys.stdout.write(secret + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(askpass(sys.argv))
