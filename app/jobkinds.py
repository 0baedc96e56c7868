"""The kinds of job, and the one rule that sets them apart when they run."""

from __future__ import annotations

from typing import Final, Literal

JobKind = Literal["command", "script", "playbook"]
JOB_KINDS: Final[tuple[JobKind, ...]] = ("command", "script", "playbook")


def runs_alone(kind: str) -> bool:
    """A playbook job has an Ansible run of its own; command and script jobs share a run and its rounds."""
    return kind == "playbook"
