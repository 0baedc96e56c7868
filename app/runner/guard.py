"""Runs ansible-playbook so that nothing of it outlives the service that started it.

ansible-runner starts ansible-playbook in a session of its own and ignores SIGHUP, and Ansible's forks each
call setsid(): when a service is killed with -9, they all go on for ever, blocked on output nobody reads. This
guard sits between the two: the kernel sends it SIGTERM when its parent dies (PR_SET_PDEATHSIG), it adopts
whatever its child leaves behind (PR_SET_CHILD_SUBREAPER), and on SIGTERM, or when the child ends, it kills
every Ansible process below it.

usage: python -m app.runner.guard ANSIBLE_PLAYBOOK [ARGS...]   (run through app.runner.ansible_process)
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Final

PR_SET_PDEATHSIG: Final = 1
PR_SET_CHILD_SUBREAPER: Final = 36


def descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # The command name may hold spaces: the fields after its closing parenthesis are fixed.
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def kill_playbooks_below_me() -> None:
    """The playbook and its forks; not ssh: a ControlPersist master started by this run (adopted by this
    guard) is shared by later runs of the same server and credential, and ends by itself."""
    for pid in descendants(os.getpid()):
        with contextlib.suppress(OSError):
            if b"ansible-playbook" in Path(f"/proc/{pid}/cmdline").read_bytes():
                os.kill(pid, signal.SIGKILL)


def main(argv: list[str]) -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1)
    if os.getppid() == 1:
        return 143  # the parent died before the guard was in place

    def end(signum: int, frame: object) -> None:
        kill_playbooks_below_me()
        os._exit(128 + signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, end)
    child = subprocess.Popen([sys.executable, "-m", "app.runner.ansible_process", *argv])
    code = child.wait()
    kill_playbooks_below_me()  # forks the playbook left behind (they were adopted by this guard)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
