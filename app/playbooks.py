"""The playbook directory (NEWREMORA_PLAYBOOK_DIR): which playbooks exist, and a name to its file.

A playbook is named by its file name only. The name is checked by pattern (no separator, no ``..``) and the
file it resolves to, symlinks followed, must still lie in the directory: nothing outside it can be run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from app.errors import ConfigurationError, InvalidInput, NotFound

PLAYBOOK_NAME: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}\.ya?ml$")


def check_playbook_name(name: str) -> str:
    if not PLAYBOOK_NAME.fullmatch(name) or ".." in name:
        raise InvalidInput(
            "playbook: must be the file name of a playbook in the playbook directory "
            "(letters, digits, '.', '_', '-', ending in .yml or .yaml; no path)"
        )
    return name


@dataclass(frozen=True)
class PlaybookFile:
    name: str
    path: Path  # resolved: inside the directory
    size: int


def open_directory(directory: Path | None) -> Path | None:
    """The directory, resolved, or None when playbook jobs are off; a configured one must exist."""
    if directory is None:
        return None
    resolved = directory.resolve()
    if not resolved.is_dir():
        raise ConfigurationError(f"NEWREMORA_PLAYBOOK_DIR: {directory} is not a directory")
    return resolved


def _inside(directory: Path, name: str) -> PlaybookFile | None:
    candidate = (directory / name).resolve()
    if candidate.parent != directory or not candidate.is_file():
        return None  # a symlink that leads out of the directory (or into a subdirectory) names nothing here
    return PlaybookFile(name=name, path=candidate, size=candidate.stat().st_size)


def find_playbook(directory: Path | None, name: str) -> PlaybookFile:
    check_playbook_name(name)
    if directory is None:
        raise NotFound("Playbook not found: no playbook directory is configured (NEWREMORA_PLAYBOOK_DIR)")
    found = _inside(directory, name)
    if found is None:
        raise NotFound("Playbook not found")
    return found


def list_playbooks(directory: Path | None) -> list[PlaybookFile]:
    if directory is None:
        return []
    found = []
    for entry in sorted(directory.iterdir()):
        if PLAYBOOK_NAME.fullmatch(entry.name):
            playbook = _inside(directory, entry.name)
            if playbook is not None:
                found.append(playbook)
    return found
