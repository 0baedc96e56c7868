"""Secrets the client sends come from files or stdin, never from argv (``ps`` shows argv to every local user)."""

from __future__ import annotations

import sys
from pathlib import Path

from app.client.errors import ClientError


def read_secret(source: str, what: str, whole: bool = False) -> str:
    """A secret from a file, or from stdin with ``-`` (its first line, or all of it when ``whole``)."""
    if source == "-":
        return (sys.stdin.read() if whole else sys.stdin.readline()).rstrip("\r\n")
    try:
        return Path(source).read_text().rstrip("\r\n")
    except OSError as exc:
        raise ClientError(f"{what} file {source}: {exc.strerror or exc}") from exc
