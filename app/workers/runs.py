"""One Ansible run of a worker thread: a playbook job alone, or command and script jobs in rounds."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path

from app.errors import NewRemoraError, SecretUnreadable
from app.jobkinds import runs_alone
from app.jobqueue.claim import Claimed
from app.logs import now_working_on
from app.reach import reach
from app.runner.jobs import run_jobs
from app.runner.playbook_jobs import run_playbook_job
from app.runner.spec import JobResult, JobSpec, RunnerConfig
from app.vault import Vault
from app.workers.cancels import Cancels
from app.workers.recorder import JobRecorder, RecorderPort
from app.workers.rounds import PoolQueue, SlotRounds
from app.workers.slots import Gate, Slot
from app.workers.specs import job_spec, playbook_spec

log = logging.getLogger(__name__)


def unready(exc: Exception, job_id: str) -> JobResult:
    """The end of a job that could not be given a spec: no thread dies of it."""
    if isinstance(exc, SecretUnreadable):
        return JobResult(None, exc.failure_reason, exc.message)
    if isinstance(exc, NewRemoraError):
        return JobResult(None, "internal", exc.message)
    log.error("job %s could not be prepared", job_id, exc_info=exc)
    return JobResult(None, "internal", f"the job could not be prepared ({type(exc).__name__})")


@dataclass(frozen=True)
class RunContext:
    """What a run needs of its pool."""

    config: RunnerConfig
    vault: Vault
    playbook_dir: Path | None
    batch_size: int
    queue: PoolQueue
    cancels: Cancels
    recorder: RecorderPort


class SlotRun:
    def __init__(self, context: RunContext, slot: Slot, gate: Gate) -> None:
        self.context = context
        self.slot = slot

        def alive() -> None:
            slot.beat()
            gate.open()  # the run is past its start-up: the next one may begin

        self.recorder = JobRecorder(context.recorder, alive, slot.running.discard)

    def stopping(self) -> bool:
        return self.context.queue.stopping() or self.slot.retired

    def run(self, claimed: list[Claimed]) -> None:
        for item in claimed:
            self.recorder.watch(item)
        for item in claimed:
            if runs_alone(item.job.kind):
                self._run_alone(item)
        commands = [item for item in claimed if not runs_alone(item.job.kind)]
        if commands:
            self._run_commands(commands)

    def take(self, batch: list[Claimed]) -> list[JobSpec]:
        """The specs of a batch the run takes; a job that cannot be given one is recorded as failed."""
        now_working_on(self.slot.jobs)
        specs = []
        for item in batch:
            self.recorder.watch(item)
            try:
                reached = reach(item.server, self.context.vault, item.job)
                spec = job_spec(item, reached.target, reached.secret_parameters)
            except Exception as exc:
                self.recorder.finished(item.job.id, unready(exc, item.job.id))
                continue
            self.recorder.mask(item.job.id, reached.masks)
            specs.append(spec)
        return specs

    def _run_alone(self, claimed: Claimed) -> None:
        job_id, context = claimed.job.id, self.context
        try:
            reached = reach(claimed.server, context.vault, claimed.job)
            self.recorder.mask(job_id, reached.masks)
            spec = playbook_spec(claimed, reached.target, context.playbook_dir, reached.secret_parameters)
        except Exception as exc:
            result = unready(exc, job_id)
            self.recorder.finished(job_id, replace(result, error=f"{claimed.job.playbook}: {result.error}"))
            return
        try:
            run_playbook_job(
                context.config,
                spec,
                self.recorder,
                cancel_requested=lambda: context.cancels.requested(job_id),
                stopping=self.stopping,
            )
        except Exception:
            log.exception("playbook job %s failed to run", job_id)
            self.recorder.finished(job_id, JobResult(None, "internal", "the Ansible run failed to start"))
        finally:
            context.cancels.forget(job_id)

    def _run_commands(self, claimed: list[Claimed]) -> None:
        specs = self.take(claimed)
        if not specs:
            return
        started = time.monotonic()
        rounds = SlotRounds(self.slot, self.context.queue, self.take)
        try:
            left = run_jobs(self.context.config, specs, self.recorder, self.stopping, rounds, self.context.batch_size)
            log.debug("a run that began with %d jobs ended after %.1f s", len(specs), time.monotonic() - started)
        except Exception:
            log.exception("a batch of %d jobs failed to run", len(specs))
            for spec in specs:
                self.recorder.finished(spec.job_id, JobResult(None, "internal", "the Ansible run failed to start"))
            return
        if left:
            log.info("stopping: %d jobs left running on their targets, to be re-attached", len(left))
