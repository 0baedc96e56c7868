"""Reading a private key file named by an inventory, only from the configured key directory."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Final

MAX_KEY_FILE_BYTES: Final = 64 * 1024


class KeyFileRefused(Exception):
    """Why a key file was not read (the message names the variable, never the file's content)."""


def read_key_file(key_dir: Path | None, name: str) -> str:
    """The text of ``name`` (relative to ``key_dir``, or absolute inside it). Refused: no key directory, a path
    that leads out of it (``..``, an absolute path elsewhere, a symlink pointing out), anything but a regular
    file, or a file larger than a key."""
    if key_dir is None:
        raise KeyFileRefused("ansible_ssh_private_key_file: key files are not read (NEWREMORA_KEY_DIR is not set)")
    if "\x00" in name or not name.strip():
        raise KeyFileRefused("ansible_ssh_private_key_file: not a file name")
    base = os.path.realpath(key_dir)
    # realpath resolves every symlink and "..": what it names is where the bytes really come from.
    resolved = os.path.realpath(os.path.join(base, os.path.expanduser(name) if name.startswith("~") else name))
    if os.path.commonpath([base, resolved]) != base or resolved == base:
        raise KeyFileRefused(f"ansible_ssh_private_key_file: {name!r} is outside the key directory")
    try:
        # O_NOFOLLOW: a symlink swapped in after the check is refused rather than followed.
        fd = os.open(resolved, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        raise KeyFileRefused(f"ansible_ssh_private_key_file: {name!r} cannot be read ({exc.strerror})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise KeyFileRefused(f"ansible_ssh_private_key_file: {name!r} is not a regular file")
        if info.st_size > MAX_KEY_FILE_BYTES:
            raise KeyFileRefused(f"ansible_ssh_private_key_file: {name!r} is too large for a key")
        data = os.read(fd, MAX_KEY_FILE_BYTES + 1)
    finally:
        os.close(fd)
    try:
        return data.decode()
    except UnicodeDecodeError:
        raise KeyFileRefused(f"ansible_ssh_private_key_file: {name!r} is not a text key file") from None
