"""A run's secrets, answered over a UNIX socket in its 0700 directory instead of being written into any file.

The inventory carries opaque random handles; Ansible's processes exchange a handle for its secret here (ssh's
askpass helper, the ``newremora_secret`` lookup). Only processes of the service's own uid get an answer
(SO_PEERCRED), and the socket closes with the run, so a handle seen later is worth nothing.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import struct
import threading
from pathlib import Path
from typing import Final

# A handle is 32 hex characters; a request longer than this is not one.
MAX_REQUEST_BYTES: Final = 64
# A client that connects and says nothing is dropped after this long.
CLIENT_TIMEOUT_S: Final = 5.0
PEERCRED: Final = struct.Struct("3i")  # pid, uid, gid


class SecretSocket:
    """Serves the secrets registered with ``handle_for`` until ``close``, on its own thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._values: dict[str, bytes] = {}
        self._handles: dict[str, str] = {}
        self._lock = threading.Lock()
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(str(path))
        os.chmod(path, 0o600)
        self._listener.listen(64)
        self._thread = threading.Thread(target=self._serve, name="secret-socket", daemon=True)
        self._thread.start()

    def handle_for(self, value: str) -> str:
        """The handle of ``value`` (the same handle each time: a run asks for a server's secret every round)."""
        with self._lock:
            handle = self._handles.get(value)
            if handle is None:
                handle = secrets.token_hex(16)
                self._handles[value] = handle
                self._values[handle] = value.encode()
            return handle

    def close(self) -> None:
        # shutdown wakes the accept() of the serving thread on Linux; close alone would not.
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self._thread.join(timeout=5)
        with self._lock:
            self._values.clear()
            self._handles.clear()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            with client, contextlib.suppress(OSError):
                self._answer(client)

    def _answer(self, client: socket.socket) -> None:
        _, uid, _ = PEERCRED.unpack(client.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, PEERCRED.size))
        if uid != os.getuid():
            return
        client.settimeout(CLIENT_TIMEOUT_S)
        request = b""
        while not request.endswith(b"\n") and len(request) <= MAX_REQUEST_BYTES:
            chunk = client.recv(MAX_REQUEST_BYTES)
            if not chunk:
                break
            request += chunk
        with self._lock:
            value = self._values.get(request.strip().decode("ascii", "replace"))
        if value is not None:
            client.sendall(value)
