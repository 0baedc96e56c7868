# NewRemora: waiting for the next round of a run (see playbooks/job_round.yml and app/runner/jobs.py).
#
# lookup('nr_round', N) waits until the service has rewritten the run's inventory with round N's jobs (it then
# creates $NR_ROUNDS_DIR/N.ready) and returns "ready", or returns "end" once the service has said the run is over
# ($NR_ROUNDS_DIR/end). Runs in Ansible's main process (the condition of a meta task): it gives up (and ends the
# run's remaining rounds) when the process that started it is gone or the service has not answered within
# NR_ROUND_WAIT_S.
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from ansible.errors import AnsibleError
from ansible.plugins.lookup import LookupBase

CHECK_EVERY_S = 0.005


class LookupModule(LookupBase):
    def run(self, terms: list[Any], variables: dict[str, Any] | None = None, **kwargs: Any) -> list[str]:
        try:
            rounds = Path(os.environ["NR_ROUNDS_DIR"])
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
