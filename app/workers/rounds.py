"""The rounds of one thread's run of command jobs: what it claims once its Ansible is up (a RoundSource)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Final, Protocol

from app.errors import NewRemoraError
from app.jobqueue.claim import Claimed
from app.runner.spec import JobSpec
from app.workers.slots import Slot

log = logging.getLogger(__name__)

# How long a run whose jobs have all ended waits for more before Ansible exits.
KEEP_WARM_S: Final = 2.0


class PoolQueue(Protocol):
    """What a run asks of its pool (app/workers/pool.py)."""

    def claim_commands(self, limit: int | None = None) -> list[Claimed]:
        """Command and script jobs for a run under way (a playbook job needs an Ansible run of its own)."""
        ...

    def wait_for_work(self, timeout: float, warm: bool = False) -> None: ...

    def requeue(self, job_ids: list[str]) -> None: ...

    def stopping(self) -> bool: ...


class SlotRounds:
    """``take`` makes a claimed batch the run's (its recorder learns of it) and returns the specs of those of
    its jobs that can run (the others are recorded as failed)."""

    def __init__(
        self,
        slot: Slot,
        queue: PoolQueue,
        take: Callable[[list[Claimed]], list[JobSpec]],
        keep_warm_s: float = KEEP_WARM_S,
    ) -> None:
        self.slot = slot
        self.queue = queue
        self.take = take
        self.keep_warm_s = keep_warm_s

    def join_first(self, room: int) -> list[JobSpec]:
        # Jobs queued while this run's Ansible started join its first round; nothing is waited for.
        self.slot.round_started = time.monotonic()
        batch: list[Claimed] = []
        try:
            batch = self.queue.claim_commands(limit=room)
        except Exception as exc:
            log.warning("claiming failed: %s", exc, exc_info=not isinstance(exc, NewRemoraError))
        # Only now: until its claim is done, the queued jobs are left to it.
        self.slot.first_round_joined([item.job.id for item in batch])
        if not batch:
            return []
        log.debug("%s: joining the round: %d jobs", self.slot.name, len(batch))
        return self.take(batch)

    def next_round(self) -> list[JobSpec]:
        """Whatever can be claimed now, or within ``keep_warm_s`` (a run kept warm takes them without Ansible's
        start-up)."""
        while batch := self._claim_while_warm(time.monotonic() + self.keep_warm_s):
            self.slot.begin_round([item.job.id for item in batch])
            log.debug("%s: a round of %d jobs", self.slot.name, len(batch))
            specs = self.take(batch)
            if specs:
                return specs
        self.slot.ending()
        return []

    def give_back(self, job_ids: list[str]) -> None:
        try:
            self.queue.requeue(job_ids)
        except Exception as exc:  # they stay running: a later claim re-attaches to them
            log.warning("could not queue %d jobs again: %s", len(job_ids), exc)

    def _claim_while_warm(self, deadline: float) -> list[Claimed]:
        self.slot.wait_warm()
        while not (self.queue.stopping() or self.slot.retired):
            try:
                claimed = self.queue.claim_commands()
            except Exception as exc:
                log.warning("claiming failed: %s", exc, exc_info=not isinstance(exc, NewRemoraError))
                return []
            if claimed:
                return claimed
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            self.queue.wait_for_work(remaining, warm=True)
        return []
