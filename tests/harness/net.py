"""Loopback ports for the throwaway services of the tests."""

from __future__ import annotations

import socket


def free_port() -> int:
    # Racy by nature (the port is released before the server binds it); callers retry on a bind failure.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
