"""Carrying cancels to where the jobs run: a command or script job is killed on its target (retried until its
run reports its end), a playbook job's run is told to stop (the playbook runs inside it)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from typing import Final

from app.errors import NewRemoraError
from app.jobkinds import runs_alone
from app.logs import for_job, jobs_in_context
from app.models import Job
from app.reach import target_for
from app.runner.cancel import kill_jobs
from app.runner.spec import RunnerConfig, Target
from app.vault import Vault

log = logging.getLogger(__name__)

KILL_RETRY_S: Final = 15.0


class Cancels:
    def __init__(self, config: RunnerConfig, vault: Vault) -> None:
        self.config = config
        self.vault = vault
        self._killing: dict[str, float] = {}
        # Playbook jobs asked to stop: their run's cancel callback looks here.
        self._flags: set[str] = set()

    def carry(self, requested: Iterable[Job]) -> None:
        """Act on the cancel requests of this worker's running jobs (each kill in a thread of its own)."""
        now = time.monotonic()
        for job in requested:
            if runs_alone(job.kind):
                self._flags.add(job.id)  # its run ends at once: the playbook runs inside it
                continue
            if now - self._killing.get(job.id, -KILL_RETRY_S) < KILL_RETRY_S:
                continue
            self._killing[job.id] = now
            try:
                target = target_for(job.server, self.vault, job)
            except NewRemoraError as exc:
                # Said, and retried, like a failed kill; the other cancels go on (they are carried in one loop).
                log.warning("cancel of job %s: %s (will retry)", job.id, exc.message, extra=for_job(job.id))
                continue
            threading.Thread(target=self._kill, args=(job.id, target), name="kill", daemon=True).start()

    def requested(self, job_id: str) -> bool:
        """For a playbook job's run: whether to stop."""
        return job_id in self._flags

    def forget(self, job_id: str) -> None:
        """The playbook job's run has ended."""
        self._flags.discard(job_id)

    def _kill(self, job_id: str, target: Target) -> None:
        with jobs_in_context([job_id]):
            errors = kill_jobs(self.config, {job_id: target})
            if errors.get(job_id):
                log.warning("cancel of job %s: %s (will retry)", job_id, errors[job_id])
