"""The worker pool: N threads that claim jobs and run them, and one that supervises them (heartbeat, cancels,
stalled threads)."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, TypeVar

from app.clock import utcnow
from app.db import Database
from app.errors import DatabaseUnavailable, DatabaseUnwritable, NewRemoraError
from app.jobkinds import runs_alone
from app.jobqueue.announce import JobEvents
from app.jobqueue.claim import Claimed, claim_jobs
from app.jobqueue.registry import heartbeat, register_worker, stop_dead_local_workers, stop_worker
from app.jobqueue.transitions import cancel_requests, release_jobs, requeue_jobs
from app.logs import jobs_in_context
from app.metrics.process import ProcessMetrics
from app.runner.config import runner_config
from app.runner.run_dir import remove_stale_runs
from app.settings import Settings
from app.vault import Vault
from app.workers.cancels import Cancels
from app.workers.fill import FILL_WAIT_S, batch_fill
from app.workers.recorder import RecorderPort
from app.workers.runs import RunContext, SlotRun
from app.workers.slots import Gate, Slot

log = logging.getLogger(__name__)
T = TypeVar("T")

HEARTBEAT_S: Final = 2.0
DEAD_AFTER: Final = timedelta(seconds=15)
# How often one waiting thread claims without being woken (jobs queued by other processes, held back, or due).
IDLE_POLL_S: Final = 0.5
# A waiting thread's own timeout (the supervisor's wake-ups come first), under the shortest stall timeout.
IDLE_WAIT_S: Final = 5.0
SUPERVISE_EVERY_S: Final = 1.0


def _warn(what: str, exc: Exception) -> None:
    """A duty that failed and will be tried again. A full disk is logged once per change of state by the database
    (app/db.py, Writability): here it would be a line for every try (heartbeats every 0.5 s, claims every 1 s)."""
    level = logging.DEBUG if isinstance(exc, DatabaseUnwritable) else logging.WARNING
    log.log(level, "%s: %s", what, exc, exc_info=not isinstance(exc, NewRemoraError))


@dataclass(frozen=True)
class Replaced:
    """The last worker thread the supervisor replaced, for /health."""

    at: datetime
    thread: str
    # "died" (with the exception's type when the pool saw it) or "stalled"
    reason: str


@dataclass(frozen=True)
class ThreadsReport:
    threads: int
    replaced: int
    last: Replaced | None


class WorkerPool:
    """Also the PoolQueue of its runs (app/workers/rounds.py)."""

    _context: RunContext  # set by start(), once the worker is registered

    def __init__(
        self,
        settings: Settings,
        database: Database,
        vault: Vault,
        events: JobEvents,
        metrics: ProcessMetrics | None = None,
    ) -> None:
        self.settings = settings
        self.database = database
        self.vault = vault
        self.events = events
        self.metrics = metrics or ProcessMetrics()
        self.config = runner_config(settings, self.metrics.run_ended)
        self.cancels = Cancels(self.config, vault)
        self.worker_id = ""
        self._stop = threading.Event()
        # Queued work wakes one waiting thread, a warm run's first (it takes jobs without Ansible's start-up):
        # waking them all made every thread claim for every submitted job (2,900 claims for 200 jobs).
        self._work_lock = threading.Lock()
        self._warm_waiting = threading.Condition(self._work_lock)
        self._idle_waiting = threading.Condition(self._work_lock)
        self._warm_waiters = 0
        self._poke = threading.Event()
        self._slots: list[Slot] = []
        self._cores = max(1, os.cpu_count() or 1)
        self._start_gate = threading.BoundedSemaphore(self._cores)
        self._fill_lock = threading.Lock()
        self._supervisor: threading.Thread | None = None
        # Threads replaced since start, and why the pool saw a thread end (its exception's type, by thread name).
        self._replaced = 0
        self._last_replaced: Replaced | None = None
        self._died_of: dict[str, str] = {}
        self.metrics.watch_workers(
            lambda: self.settings.workers,
            lambda: sum(1 for slot in list(self._slots) if slot.jobs),
            lambda: sum(len(slot.jobs) for slot in list(self._slots)),
        )

    def start(self) -> None:
        removed = remove_stale_runs(self.config.runs_dir) if self.config.runs_dir.exists() else 0
        if removed:
            log.info("removed %d run directories left by stopped processes", removed)
        dead = self.database.call(stop_dead_local_workers)
        if dead:
            log.info("%d worker(s) of this host had died; their running jobs will be re-attached", dead)
        self.worker_id = self.database.call(register_worker, self.settings.workers, self.settings.batch_size)
        recorder = RecorderPort(
            store=self.call_until_stored,
            events=self.events,
            worker_id=self.worker_id,
            max_output_bytes=self.settings.max_output_bytes,
            metrics=self.metrics,
            wake=self.wake,  # a job ended: its server has room for another
            reconnect_grace_s=self.settings.reconnect_grace,
        )
        self._context = RunContext(
            self.config, self.vault, self.settings.playbook_dir, self.settings.batch_size, self, self.cancels, recorder
        )
        for number in range(self.settings.workers):
            self._start_slot(f"worker-{number}")
        self._supervisor = threading.Thread(target=self._supervise, name="worker-supervisor", daemon=True)
        self._supervisor.start()
        log.info(
            "worker %s: %d threads, batches of up to %d",
            self.worker_id,
            self.settings.workers,
            self.settings.batch_size,
        )

    def _start_slot(self, name: str) -> None:
        slot = Slot(name)
        slot.thread = threading.Thread(target=self._work, args=(slot,), name=name, daemon=True)
        self._slots.append(slot)
        slot.thread.start()

    def wake(self) -> None:
        """A job was queued: one waiting thread claims now (the supervisor also wakes one every IDLE_POLL_S, for
        jobs queued by other processes and jobs held back for a run's next round)."""
        with self._work_lock:
            if self._warm_waiters:
                self._warm_waiting.notify()
            else:
                self._idle_waiting.notify()

    def wait_for_work(self, timeout: float, warm: bool = False) -> None:
        with self._work_lock:
            if not warm:
                self._idle_waiting.wait(timeout)
                return
            self._warm_waiters += 1
            try:
                self._warm_waiting.wait(timeout)
            finally:
                self._warm_waiters -= 1

    def poke(self) -> None:
        """A job changed somewhere (perhaps a cancel for one of ours): look now rather than at the next poll."""
        self._poke.set()

    def stopping(self) -> bool:
        return self._stop.is_set()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop claiming and end the Ansible runs; jobs on targets go on and are re-attached later."""
        self._stop.set()
        with self._work_lock:
            self._warm_waiting.notify_all()
            self._idle_waiting.notify_all()
        deadline = time.monotonic() + timeout
        threads = [slot.thread for slot in self._slots if slot.thread is not None] + [self._supervisor]
        for thread in threads:
            if thread is not None:
                thread.join(max(0.0, deadline - time.monotonic()))
        try:
            self.database.call(stop_worker, self.worker_id)
        except NewRemoraError:
            log.warning("could not record the stop of worker %s", self.worker_id)

    def _work(self, slot: Slot) -> None:
        while not self._stop.is_set() and not slot.retired:
            slot.beat()
            # Ansible's start-up is the costly part of a run (~1 CPU-second). Only as many runs start at once
            # as there are cores; the others wait here, and meanwhile the queue fills their batch. An idle
            # service starts a lone job at once.
            if not self._start_gate.acquire(timeout=IDLE_POLL_S):
                continue
            gate = Gate(self._start_gate)
            with self._fill_lock:  # two threads deciding at once would each see no other run
                fill = self._batch_fill(slot)
                slot.claim_begins()
            try:
                claimed = self._claim(fill=fill)
            except Exception as exc:
                slot.idle()
                gate.open()
                # A worker thread must outlive any one failure; the database may just be restarting.
                _warn("claiming failed", exc)
                self._stop.wait(1.0)
                continue
            if not claimed:
                slot.idle()
                gate.open()
                self.wait_for_work(IDLE_WAIT_S)
                continue
            # Seen by the others' _batch_fill from now, not only once the run has begun.
            slot.claimed([item.job.id for item in claimed], alone=all(runs_alone(i.job.kind) for i in claimed))
            try:
                with jobs_in_context([item.job.id for item in claimed]):
                    SlotRun(self._context, slot, gate).run(claimed)
            except Exception as exc:
                # The thread ends with its jobs still on its slot: the supervisor hands them back to be
                # re-attached, replaces the thread and counts it (/health, /metrics). Clearing them here left
                # them `running` for good.
                self._died_of[slot.name] = type(exc).__name__
                log.exception("%s: its run failed", slot.name)
                gate.open()
                return
            gate.open()
            slot.idle()

    def _batch_fill(self, slot: Slot) -> int:
        others = [other.snapshot() for other in self._slots if other is not slot]
        return batch_fill(others, time.monotonic(), self.settings.batch_size, self._cores, FILL_WAIT_S)

    def _claim(self, fill: int = 1, commands_only: bool = False, limit: int | None = None) -> list[Claimed]:
        return self.database.call(
            claim_jobs,
            self.events,
            self.worker_id,
            limit or self.settings.batch_size,
            self.settings.server_concurrency,
            DEAD_AFTER,
            fill,
            commands_only,
        )

    def claim_commands(self, limit: int | None = None) -> list[Claimed]:
        return self._claim(commands_only=True, limit=limit)

    def requeue(self, job_ids: list[str]) -> None:
        self.database.call(requeue_jobs, self.events, self.worker_id, job_ids)

    def call_until_stored(self, fn: Callable[..., T], *args: Any) -> T:
        """A database call that must not be lost: while the database is down it is retried (the run waits,
        and Ansible with it), unless this worker is stopping (then the job is re-attached later, from the
        offsets that were stored)."""
        delay = 0.2
        while True:
            try:
                return self.database.call(fn, *args)
            except DatabaseUnavailable as exc:
                if self._stop.is_set():
                    raise
                # A full disk is logged once per change of state (app/db.py), not at every try.
                if not isinstance(exc, DatabaseUnwritable):
                    log.warning("database unavailable; retrying in %.1f s", delay)
                # Waiting for the database is not a hung run: the supervisor must not retire this thread.
                self._beat_current_slot()
                time.sleep(delay)
                delay = min(delay * 2, 5.0)

    def _beat_current_slot(self) -> None:
        current = threading.current_thread()
        for slot in list(self._slots):
            if slot.thread is current:
                slot.beat()

    def _supervise(self) -> None:
        next_heartbeat = next_claim = 0.0
        while not self._stop.is_set():
            # Cancels arrive through a poke (same process, or PostgreSQL NOTIFY); polling is the fallback.
            self._poke.wait(max(0.0, min(SUPERVISE_EVERY_S, next_claim - time.monotonic())))
            self._poke.clear()
            if self._stop.is_set():
                return
            if time.monotonic() >= next_claim:
                self.wake()  # one thread looks at the queue, whoever queued what
                next_claim = time.monotonic() + IDLE_POLL_S
            # Each duty apart: one that fails (the database, a cancel) must not hold back the others.
            try:
                if time.monotonic() >= next_heartbeat:
                    self.database.call(heartbeat, self.worker_id)
                    next_heartbeat = time.monotonic() + HEARTBEAT_S
            except Exception as exc:
                _warn("supervisor: heartbeat", exc)
            try:
                if any(slot.jobs for slot in self._slots):  # nothing of ours runs: nothing to cancel
                    self.cancels.carry(self.database.call(cancel_requests, self.worker_id))
            except Exception as exc:
                _warn("supervisor: cancels", exc)
            try:
                self._replace_stalled_slots()
            except Exception as exc:
                log.warning("supervisor: %s", exc, exc_info=not isinstance(exc, NewRemoraError))

    def threads_report(self) -> ThreadsReport:
        return ThreadsReport(self.settings.workers, self._replaced, self._last_replaced)

    def _replace_stalled_slots(self) -> None:
        """A thread that died, or whose run has shown no sign of life for the stall timeout, is retired: its
        Ansible run is ended, its jobs are handed back to be re-attached, and a new thread takes its place."""
        stall_s = self.settings.stall_timeout
        for slot in list(self._slots):
            if slot.retired or (slot.alive() and time.monotonic() - slot.last_beat < stall_s):
                continue
            died = not slot.alive()
            if slot.jobs:
                # First: if the database refuses, the next round of supervision tries again.
                self.database.call(release_jobs, self.worker_id, slot.jobs)
            cause = self._died_of.pop(slot.name, None)
            reason = ("died" + (f" ({cause})" if cause else "")) if died else f"stalled for {stall_s} s"
            log.error("%s %s; its %d jobs are re-attached", slot.name, reason, len(slot.jobs))
            slot.retired = True
            self._replaced += 1
            self._last_replaced = Replaced(utcnow(), slot.name, reason)
            self.metrics.thread_replaced("died" if died else "stalled")
            self._slots.remove(slot)
            self._start_slot(f"{slot.name}+")
