"""What the service creates on disk is its own: directories 0700, files 0600, whatever the umask.

The data dir holds the database (job output, commands, key hashes) and the key file: no other local user may
read it. Three layers, so that one forgotten call does not open a file to everyone: the umask of every service
process is 077 from its start (ansible-runner and SQLite create files too), the data dir and the SQLite files
are created with private modes, and ones left looser by an older version are tightened (with a warning).
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from pathlib import Path
from typing import Final

from app.errors import ConfigurationError

log = logging.getLogger(__name__)

PRIVATE_UMASK: Final = 0o077
DIR_MODE: Final = 0o700
FILE_MODE: Final = 0o600
# SQLite makes these beside the database file (WAL mode), with the database file's mode.
SQLITE_COMPANIONS: Final = ("-wal", "-shm", "-journal")
# What the service itself keeps in the data dir: the database and its companions, the key file, run directories.
OWN_ENTRIES: Final = ("newremora.db", "secret.key", "runs")


def private_umask() -> None:
    """Files and directories this process (and its children: ansible-runner, ssh) creates get no group or other
    bits. Called first thing by the service's commands."""
    os.umask(PRIVATE_UMASK)


def _tighten(path: Path, mode: int) -> None:
    current = stat.S_IMODE(path.stat().st_mode)
    if current & 0o077:
        # A directory or file left readable by an older version (or created by hand): ours, so made private.
        try:
            path.chmod(mode)
        except OSError as exc:
            raise ConfigurationError(
                f"{path} is open to other users (mode {current:o}) and cannot be made private ({exc.strerror}): "
                f"chmod {mode:o} it as its owner"
            ) from None
        log.warning("%s was open to other users (mode %o): changed to %o", path, current, mode)


def _ours(name: str) -> bool:
    return name.startswith(OWN_ENTRIES)


def private_dir(path: Path) -> None:
    """The data dir: created 0700 (parents too), or tightened to 0700 when it exists with looser bits and holds
    nothing but NewRemora's files. A loose directory holding anything else is refused, never changed: a data dir
    left at its relative default by a process started in ``/`` would be ``/var``."""
    if not path.exists():
        path.mkdir(mode=DIR_MODE, parents=True)
        path.chmod(DIR_MODE)  # mkdir's mode is filtered by the umask; this one is not
    current = stat.S_IMODE(path.stat().st_mode)
    if current & 0o077 and not all(_ours(entry.name) for entry in path.iterdir()):
        raise ConfigurationError(
            f"the data dir {path.absolute()} is open to other users (mode {current:o}) and holds files that are not "
            "NewRemora's: set NEWREMORA_DATA_DIR to a directory of its own (it is created 0700), or chmod 700 it"
        )
    _tighten(path, DIR_MODE)


def sqlite_files(database: Path) -> None:
    """Before SQLite opens ``database``: its directory exists (created 0700 if missing; an existing one is left
    as it is, since a SQLite URL may point into a shared directory), the file exists 0600 (SQLite gives its WAL
    and shared-memory files the database file's mode), and files of an older version are tightened to 0600."""
    if not database.parent.exists():
        private_dir(database.parent)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    for path in (database, *(database.with_name(database.name + suffix) for suffix in SQLITE_COMPANIONS)):
        if path.exists():
            _tighten(path, FILE_MODE)
