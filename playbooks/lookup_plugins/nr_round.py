# NewRemora: waiting for the next round of a run, and within a round for a new connection (see
# playbooks/job_round.yml and app/runner/jobs.py).
#
# lookup('nr_round', N) waits until the service has rewritten the run's inventory with round N's jobs (it then
# creates $NR_ROUNDS_DIR/N.ready) and returns "ready", or returns "end" once the service has said the run is over
# ($NR_ROUNDS_DIR/end). Runs in Ansible's main process (the condition of a meta task): it gives up (and ends the
# run's remaining rounds) when the process that started it is gone or the service has not answered within
# NR_ROUND_WAIT_S.
#
# lookup('nr_round', 'after', OPENER, JOB, CONTROL_PATH) runs in the worker of job JOB, as its task's command is
# templated (once: retries reuse it), before anything reaches the target. JOB shares a new ssh connection with
# job OPENER of the same round, which opens it: JOB waits until the connection's master is up (its control
# socket exists), or the service saw OPENER's first answer ($NR_ROUNDS_DIR/tried_OPENER: it failed to connect,
# JOB then tries on its own), or NR_AFTER_WAIT_S passed. It returns "" (nothing is added to the command). Before
# returning it creates $NR_ROUNDS_DIR/went_JOB exclusively: a run stopped meanwhile (Ansible's main process gone)
# creates it first, for a job it gives back to the queue, and the job then fails here instead of starting
# (never started twice).
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from ansible.errors import AnsibleError
from ansible.plugins.lookup import LookupBase

CHECK_EVERY_S = 0.005


def _after(rounds: Path, opener: str, job: str, control_path: str) -> list[str]:
    socket, tried = Path(control_path), rounds / f"tried_{opener}"
    parent = os.getppid()
    deadline = time.monotonic() + float(os.environ.get("NR_AFTER_WAIT_S", "30"))
    while not (socket.exists() or tried.exists()) and time.monotonic() < deadline:
        if os.getppid() != parent:  # the run was stopped: the service gives the job back to the queue
            raise AnsibleError("nr_round: the run stopped before this job started")
        time.sleep(CHECK_EVERY_S)
    try:
        os.close(os.open(rounds / f"went_{job}", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        raise AnsibleError("nr_round: the run stopped before this job started; it is queued again") from None
    return [""]


class LookupModule(LookupBase):
    def run(self, terms: list[Any], variables: dict[str, Any] | None = None, **kwargs: Any) -> list[str]:
        try:
            rounds = Path(os.environ["NR_ROUNDS_DIR"])
            if terms and terms[0] == "after":
                return _after(rounds, str(terms[1]), str(terms[2]), str(terms[3]))
            wait_s = float(os.environ.get("NR_ROUND_WAIT_S", "120"))
            number = int(terms[0])
        except (KeyError, IndexError, ValueError) as exc:
            raise AnsibleError(f"nr_round: {exc}") from exc
        ready, end = rounds / f"{number}.ready", rounds / "end"
        parent = os.getppid()
        deadline = time.monotonic() + wait_s
        while not ready.exists():
            if end.exists():
                return ["end"]
            if os.getppid() != parent or time.monotonic() > deadline:
                end.touch()
                return ["end"]
            time.sleep(CHECK_EVERY_S)
        return ["ready"]
