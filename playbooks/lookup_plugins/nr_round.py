# NewRemora: the jobs of one round of a run (see playbooks/run_jobs.yml and app/runner/jobs.py).
#
# query('nr_round', N) waits until the service has written round N's jobs to $NR_ROUNDS_DIR/N.json (a JSON
# list of host entries: alias and variables) and returns them, or [] once the service has said the run is over
# ($NR_ROUNDS_DIR/end). Every string is returned unsafe: job text and credentials are data, never templates.
# Runs inside an Ansible worker process: it gives up (and ends the run's remaining rounds) when the playbook
# that forked it is gone or the service has not answered within NR_ROUND_WAIT_S.
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from ansible.errors import AnsibleError
from ansible.plugins.lookup import LookupBase
from ansible.utils.unsafe_proxy import wrap_var

CHECK_EVERY_S = 0.01


class LookupModule(LookupBase):
    def run(self, terms: list[Any], variables: dict[str, Any] | None = None, **kwargs: Any) -> list[Any]:
        try:
            rounds = Path(os.environ["NR_ROUNDS_DIR"])
            wait_s = float(os.environ.get("NR_ROUND_WAIT_S", "120"))
            number = int(terms[0])
        except (KeyError, IndexError, ValueError) as exc:
            raise AnsibleError(f"nr_round: {exc}") from exc
        batch, end = rounds / f"{number}.json", rounds / "end"
        parent = os.getppid()
        deadline = time.monotonic() + wait_s
        while not batch.exists():
            if end.exists():
                return []
            if os.getppid() != parent or time.monotonic() > deadline:
                end.touch()
                return []
            time.sleep(CHECK_EVERY_S)
        return [wrap_var(entry) for entry in json.loads(batch.read_text())]
