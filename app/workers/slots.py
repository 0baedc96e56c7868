"""One worker thread as its pool sees it: its state for the fill policy, its jobs, its signs of life."""

from __future__ import annotations

import threading
import time

from app.workers.fill import SlotSnapshot, SlotState


class Slot:
    """Written by its own thread (and its run's recorder), read by the pool's other threads: each field is one
    assignment, so a reader sees a consistent enough picture without a lock."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.thread: threading.Thread | None = None
        self.last_beat = time.monotonic()
        self.retired = False
        self.state = SlotState.IDLE
        # The jobs of its current round (handed back if the thread stalls), and those of them not yet ended:
        # the run takes as many as it has room for at once when its round ends.
        self.jobs: list[str] = []
        self.running: set[str] = set()
        self.round_started = 0.0

    def snapshot(self) -> SlotSnapshot:
        return SlotSnapshot(self.state, self.round_started, len(self.running))

    def claim_begins(self) -> None:
        self.state = SlotState.CLAIMING

    def claimed(self, job_ids: list[str], alone: bool) -> None:
        """The first jobs of a new run: as good as a round begun (seen by the others' fill from now)."""
        self.jobs, self.round_started = job_ids, time.monotonic()
        self.running.update(job_ids)
        self.state = SlotState.ALONE if alone else SlotState.STARTING

    def begin_round(self, job_ids: list[str]) -> None:
        self.jobs, self.round_started = job_ids, time.monotonic()
        self.running.clear()
        self.running.update(job_ids)
        self._move(SlotState.IN_ROUND)

    def first_round_joined(self, job_ids: list[str]) -> None:
        """The jobs queued while its Ansible started have been claimed (or none could be): it is in its round."""
        self.state = SlotState.IN_ROUND
        self.jobs = self.jobs + job_ids
        self.running.update(job_ids)

    def wait_warm(self) -> None:
        """The round's jobs have all ended: idle (and warm) until it gets more."""
        self.jobs = []
        self.running.clear()
        self._move(SlotState.WARM)

    def ending(self) -> None:
        self._move(SlotState.ENDING)

    def _move(self, state: SlotState) -> None:
        # A run leaves STARTING only once its first round was offered the jobs queued during its start-up
        # (first_round_joined). One whose first round was full is never offered any, and counts as starting (as
        # taking work soon) until its end.
        if self.state is not SlotState.STARTING:
            self.state = state

    def idle(self) -> None:
        self.jobs = []
        self.running.clear()
        self.state = SlotState.IDLE

    def beat(self) -> None:
        self.last_beat = time.monotonic()

    def alive(self) -> bool:
        return self.thread is not None and self.thread.is_alive()


class Gate:
    """A place at the start gate, given back once (when the run is under way, or failed to start)."""

    def __init__(self, semaphore: threading.BoundedSemaphore) -> None:
        self._semaphore = semaphore
        self._lock = threading.Lock()
        self._open = False

    def open(self) -> None:
        with self._lock:
            if not self._open:
                self._open = True
                self._semaphore.release()
