"""Processes of this machine, read from /proc (full command lines: ps truncates them)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Process:
    pid: int
    session: int
    state: str
    args: str


def all_processes() -> list[Process]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            # The command name in stat may hold spaces: the fields after its closing parenthesis are fixed.
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            args = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
            found.append(Process(int(entry.name), int(fields[3]), fields[0], args))
    return found


def live_processes_mentioning(text: str) -> list[Process]:
    return [p for p in all_processes() if text in p.args and p.state != "Z"]


def kill_processes_mentioning(text: str) -> None:
    """SIGKILL to the process groups of live processes whose command line holds ``text``."""
    import os
    import signal

    for process in live_processes_mentioning(text):
        with contextlib.suppress(OSError):
            os.killpg(os.getpgid(process.pid), signal.SIGKILL)
