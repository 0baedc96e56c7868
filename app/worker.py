"""Worker threads: claim jobs from the database, run them through the runner, record what happens."""

from __future__ import annotations

import codecs
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from app.db import Database
from app.errors import DatabaseUnavailable, NewRemoraError
from app.jobqueue.announce import JobEvents
from app.jobqueue.claim import Claimed, claim_jobs
from app.jobqueue.contact import note_connectivity, trust_host_key
from app.jobqueue.output import NotOwner, append_output, append_task_event
from app.jobqueue.registry import heartbeat, register_worker, stop_dead_local_workers, stop_worker
from app.jobqueue.transitions import cancel_requests, finish_job, release_jobs, requeue_jobs
from app.logs import for_job, jobs_in_context, now_working_on
from app.masking import SecretMasker
from app.metrics.process import ProcessMetrics
from app.playbooks import find_playbook, open_directory
from app.reach import reach, target_for
from app.runner.cancel import kill_jobs
from app.runner.config import runner_config
from app.runner.inventory import remove_stale_runs
from app.runner.jobs import run_jobs
from app.runner.playbook_jobs import host_alias, run_playbook_job
from app.runner.spec import (
    JobResult,
    JobSpec,
    PlaybookSpec,
    Stream,
    Target,
    TaskEvent,
)
from app.secrets import Vault
from app.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")

HEARTBEAT_S = 2.0
DEAD_AFTER = timedelta(seconds=15)
# How often one waiting thread claims without being woken (jobs queued by other processes, held back, or due).
IDLE_POLL_S = 0.5
# A waiting thread's own timeout (the supervisor's wake-ups come first), under the shortest stall timeout.
IDLE_WAIT_S = 5.0
FILL_WAIT_S = 2.0
# How long a run whose jobs have all ended waits for more before Ansible exits.
KEEP_WARM_S = 2.0
KILL_RETRY_S = 15.0
SUPERVISE_EVERY_S = 1.0
CONNECTION_FAILURES = ("unreachable", "auth_failed", "host_key_mismatch")


def job_spec(claimed: Claimed, target: Target) -> JobSpec:
    job = claimed.job
    payload = job.script if job.kind == "script" else " ".join(p for p in (job.command, job.args) if p)
    return JobSpec(
        job_id=job.id,
        kind="script" if job.kind == "script" else "command",
        payload=payload or "",
        shell=job.shell,
        timeout=job.timeout,
        target=target,
        stdout_offset=job.stdout_offset,
        stderr_offset=job.stderr_offset,
        reattach=claimed.reattach,
        attempt=max(1, job.attempt),
    )


def playbook_spec(claimed: Claimed, target: Target, playbook_dir: Path | None) -> PlaybookSpec:
    """What the runner needs for a playbook job; the playbook is found again now (it may have gone)."""
    job = claimed.job
    return PlaybookSpec(
        job_id=job.id,
        playbook=find_playbook(open_directory(playbook_dir), job.playbook or "").path,
        extra_vars=json.loads(job.extra_vars) if job.extra_vars else {},
        timeout=job.timeout,
        target=target,
        host_alias=host_alias(claimed.server.name, job.id),
    )


class _StreamText:
    """Bytes of one stream of one job, on their way to storage: decoded, then masked."""

    def __init__(self, secrets: Sequence[str]) -> None:
        # Incremental: a character split across two polls is not turned into two replacement characters.
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self.masker = SecretMasker(list(secrets))
        self.end_offset = 0

    def feed(self, data: bytes) -> str:
        return self.masker.feed(self.decoder.decode(data))

    def flush(self) -> str:
        return self.masker.feed(self.decoder.decode(b"", final=True)) + self.masker.flush()


def mask_all(text: str, secrets: Sequence[str]) -> str:
    masker = SecretMasker(list(secrets))
    return masker.feed(text) + masker.flush()


class JobRecorder:
    """Stores what a run reports about its jobs (a JobListener), then tells whoever watches them."""

    def __init__(
        self,
        pool: WorkerPool,
        claimed: list[Claimed],
        secrets: dict[str, Sequence[str]],
        beat: Callable[[], None],
        ended: Callable[[str], None] = lambda job_id: None,
    ) -> None:
        self.pool = pool
        self.beat = beat
        self.ended = ended
        self.server_of_job = {c.job.id: c.server.id for c in claimed}
        self.started_at: dict[str, datetime | None] = {c.job.id: c.job.started_at for c in claimed}
        self.secrets_of_job = secrets
        self.streams: dict[tuple[str, str], _StreamText] = {}

    def _stream(self, job_id: str, stream: str) -> _StreamText:
        key = (job_id, stream)
        if key not in self.streams:
            self.streams[key] = _StreamText(self.secrets_of_job.get(job_id, []))
        return self.streams[key]

    def _store(self, job_id: str, stream: str, text: str, end_offset: int) -> None:
        if not text:
            return
        pool = self.pool
        try:
            pool.call_until_stored(
                append_output,
                pool.events,
                job_id,
                pool.worker_id,
                stream,
                text,
                end_offset,
                pool.settings.max_output_bytes,
            )
        except NotOwner:
            log.warning("job %s is no longer ours; output dropped here", job_id, extra=for_job(job_id))

    def output(self, job_id: str, stream: Stream, data: bytes, offset: int) -> None:
        self.beat()
        self.pool.metrics.output_received(stream, len(data))
        text = self._stream(job_id, stream)
        text.end_offset = offset + len(data)
        self._store(job_id, stream, text.feed(data), text.end_offset)

    def finished(self, job_id: str, result: JobResult) -> None:
        self.beat()
        for stream in ("stdout", "stderr"):
            text = self.streams.pop((job_id, stream), None)
            if text is not None:
                self._store(job_id, stream, text.flush(), text.end_offset)
        pool = self.pool
        status = pool.call_until_stored(
            finish_job, pool.events, job_id, pool.worker_id, result.exit_code, result.failure_reason, result.error
        )
        server_id = self.server_of_job.get(job_id)
        if server_id is not None:
            connected = result.failure_reason not in CONNECTION_FAILURES
            pool.call_until_stored(note_connectivity, server_id, connected, result.error or "job ran")
        if status is not None:
            failure_reason = result.failure_reason if status == "failed" else None
            pool.metrics.job_finished(status, failure_reason, self.started_at.get(job_id))
        log.info("job %s finished: %s (exit code %s)", job_id, status, result.exit_code, extra=for_job(job_id))
        self.ended(job_id)
        pool.wake()  # its server has room for another job

    def task(self, job_id: str, event: TaskEvent) -> None:
        self.beat()
        masked = {
            name: mask_all(value, self.secrets_of_job.get(job_id, [])) if isinstance(value, str) else value
            for name, value in event.as_dict().items()
        }
        pool = self.pool
        data = json.dumps(masked, ensure_ascii=False)
        try:
            pool.call_until_stored(
                append_task_event, pool.events, job_id, pool.worker_id, data, pool.settings.max_output_bytes
            )
        except NotOwner:
            log.warning("job %s is no longer ours; task event dropped here", job_id)

    def host_key_seen(self, server_id: str, host_key: str) -> None:
        self.pool.call_until_stored(trust_host_key, server_id, host_key)

    def progress(self) -> None:
        self.beat()


class _Rounds:
    """The RoundSource of one run of command jobs (app/runner/spec.py)."""

    def __init__(
        self,
        join_first: Callable[[int], list[JobSpec]],
        next_round: Callable[[], list[JobSpec]],
        give_back: Callable[[list[str]], None],
    ) -> None:
        self._join_first, self._next_round, self._give_back = join_first, next_round, give_back

    def join_first(self, room: int) -> list[JobSpec]:
        return self._join_first(room)

    def next_round(self) -> list[JobSpec]:
        return self._next_round()

    def give_back(self, job_ids: list[str]) -> None:
        self._give_back(job_ids)


class _Gate:
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


class _Slot:
    """One worker thread and what the supervisor knows of it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.thread: threading.Thread | None = None
        self.last_beat = time.monotonic()
        self.jobs: list[str] = []
        self.retired = False
        # When this thread's run began its current round of jobs, and whether it waits for the next (see
        # WorkerPool._batch_fill).
        self.round_started = 0.0
        self.warm = False
        # The jobs of the current round that have not ended: the run takes as many as it has room for at once
        # when its round ends.
        self.running: set[str] = set()
        # A run of command jobs (rounds), not of one playbook job (which takes nothing more).
        self.commands = False
        # Claiming the first jobs of a new run, or starting its Ansible (its first round takes the jobs queued
        # meanwhile): as good as a round begun, however long the start-up (the others leave it a burst of jobs).
        self.claiming = False
        self.starting = False

    def beat(self) -> None:
        self.last_beat = time.monotonic()

    def alive(self) -> bool:
        return self.thread is not None and self.thread.is_alive()


class WorkerPool:
    """N threads that run batches of jobs, and one that heartbeats and carries cancels to the targets."""

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
        self.metrics = metrics or ProcessMetrics()
        self.config = runner_config(settings, self.metrics.run_ended)
        self.events = events
        self.worker_id = ""
        self._stop = threading.Event()
        # Queued work wakes one waiting thread, a warm run's first (it takes jobs without Ansible's start-up):
        # waking them all made every thread claim for every submitted job (2,900 claims for 200 jobs).
        self._work_lock = threading.Lock()
        self._warm_waiting = threading.Condition(self._work_lock)
        self._idle_waiting = threading.Condition(self._work_lock)
        self._warm_waiters = 0
        self._poke = threading.Event()
        self._slots: list[_Slot] = []
        self._cores = max(1, os.cpu_count() or 1)
        self._start_gate = threading.BoundedSemaphore(self._cores)
        self._fill_lock = threading.Lock()
        self._supervisor: threading.Thread | None = None
        self._killing: dict[str, float] = {}
        self.metrics.watch_workers(
            lambda: self.settings.workers,
            lambda: sum(1 for slot in list(self._slots) if slot.jobs),
            lambda: sum(len(slot.jobs) for slot in list(self._slots)),
        )
        # Playbook jobs asked to stop: their run's cancel callback looks here.
        self._cancel_flags: set[str] = set()

    def start(self) -> None:
        removed = remove_stale_runs(self.config.runs_dir) if self.config.runs_dir.exists() else 0
        if removed:
            log.info("removed %d run directories left by stopped processes", removed)
        dead = self.database.call(stop_dead_local_workers)
        if dead:
            log.info("%d worker(s) of this host had died; their running jobs will be re-attached", dead)
        self.worker_id = self.database.call(register_worker, self.settings.workers, self.settings.batch_size)
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
        slot = _Slot(name)
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

    def _wait_for_work(self, timeout: float, warm: bool = False) -> None:
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

    def _work(self, slot: _Slot) -> None:
        while not self._stop.is_set() and not slot.retired:
            slot.beat()
            # Ansible's start-up is the costly part of a run (~1 CPU-second). Only as many runs start at once
            # as there are cores; the others wait here, and meanwhile the queue fills their batch. An idle
            # service starts a lone job at once.
            if not self._start_gate.acquire(timeout=IDLE_POLL_S):
                continue
            gate = _Gate(self._start_gate)
            with self._fill_lock:  # two threads deciding at once would each see no other run
                fill = self._batch_fill(slot)
                slot.claiming = True
            try:
                claimed = self._claim(fill=fill)
                if claimed:  # seen by the others' _batch_fill from now, not only once _run has begun
                    slot.jobs, slot.round_started = [item.job.id for item in claimed], time.monotonic()
                    slot.running.update(slot.jobs)
                    slot.commands = slot.starting = any(item.job.kind != "playbook" for item in claimed)
            except Exception as exc:
                gate.open()
                # A worker thread must outlive any one failure; the database may just be restarting.
                log.warning("claiming failed: %s", exc, exc_info=not isinstance(exc, NewRemoraError))
                self._stop.wait(1.0)
                continue
            finally:
                slot.claiming = False
            if not claimed:
                gate.open()
                self._wait_for_work(IDLE_WAIT_S)
                continue
            try:
                with jobs_in_context([item.job.id for item in claimed]):
                    self._run(claimed, slot, gate)
            finally:
                gate.open()
                slot.jobs, slot.starting, slot.commands = [], False, False
                slot.running.clear()

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

    def _batch_fill(self, slot: _Slot) -> int:
        """How many jobs a new run should start with. Runs that take new work as soon as their round ends (they
        wait for work, are claiming, are starting Ansible, or began a round within FILL_WAIT_S) take it without
        Ansible's start-up, and one Ansible process then holds what several would: while there is one, a new
        run needs half a batch; while there are as many as cores, a whole batch (another run would only share
        the same CPUs, at the price of its start-up). Beyond that, the room those runs have (a batch less the
        jobs of their round still running) is theirs: a new run starts only for jobs they cannot take. Two runs
        splitting a burst that one could hold cost ~30 % more CPU than one (docs/benchmarks.md, throughput).
        With no such run: one. An idle service starts a lone job at once, and runs busy with long jobs hold the
        queue back for FILL_WAIT_S at most."""
        now = time.monotonic()
        taking = [
            other
            for other in self._slots
            if other is not slot
            and (
                other.warm
                or other.claiming
                or other.starting
                or (other.commands and other.jobs and now - other.round_started < FILL_WAIT_S)
            )
        ]
        if not taking:
            return 1
        theirs = sum(max(0, self.settings.batch_size - len(other.running)) for other in taking)
        if len(taking) >= self._cores:
            return self.settings.batch_size + theirs
        return max(1, self.settings.batch_size // 2) + theirs

    def call_until_stored(self, fn: Callable[..., T], *args: Any) -> T:
        """A database call that must not be lost: while the database is down it is retried (the run waits,
        and Ansible with it), unless this worker is stopping (then the job is re-attached later, from the
        offsets that were stored)."""
        delay = 0.2
        while True:
            try:
                return self.database.call(fn, *args)
            except DatabaseUnavailable:
                if self._stop.is_set():
                    raise
                log.warning("database unavailable; retrying in %.1f s", delay)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)

    def _claim_next_round(self, slot: _Slot) -> list[Claimed]:
        """Jobs for the next round of a run that is under way: whatever can be claimed now, or within
        KEEP_WARM_S (a run kept warm takes them without Ansible's start-up); none ends the run."""
        deadline = time.monotonic() + KEEP_WARM_S
        slot.jobs = []  # the round's jobs have all ended: the slot is idle (and warm) until it gets more
        slot.running.clear()
        slot.warm = True
        try:
            return self._claim_while_warm(slot, deadline)
        finally:
            slot.warm = False

    def _claim_while_warm(self, slot: _Slot, deadline: float) -> list[Claimed]:
        while not (self._stop.is_set() or slot.retired):
            try:
                claimed = self._claim(commands_only=True)
            except Exception as exc:
                log.warning("claiming failed: %s", exc, exc_info=not isinstance(exc, NewRemoraError))
                return []
            if claimed:
                return claimed
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            self._wait_for_work(remaining, warm=True)
        return []

    def _run(self, claimed: list[Claimed], slot: _Slot, gate: _Gate) -> None:
        def alive() -> None:
            slot.beat()
            gate.open()  # the run is past its start-up: the next one may begin

        recorder = JobRecorder(self, [], {}, alive, slot.running.discard)

        def register(batch: list[Claimed], joining: bool = False) -> None:
            log.debug("%s: %s %d jobs", slot.name, "joining the round:" if joining else "a round of", len(batch))
            ids = [item.job.id for item in batch]
            if joining:
                slot.jobs = slot.jobs + ids
            else:
                slot.jobs = ids
                slot.round_started = time.monotonic()
                slot.running.clear()
            slot.running.update(ids)
            now_working_on(slot.jobs)
            for item in batch:
                recorder.server_of_job[item.job.id] = item.server.id
                recorder.started_at[item.job.id] = item.job.started_at

        register(claimed, False)
        for item in claimed:
            if item.job.kind == "playbook":
                self._run_playbook(item, recorder, slot)
        commands = [c for c in claimed if c.job.kind != "playbook"]
        if commands:
            self._run_commands(commands, recorder, slot, register)

    def _run_playbook(self, claimed: Claimed, recorder: JobRecorder, slot: _Slot) -> None:
        job_id = claimed.job.id
        try:
            reached = reach(claimed.server, self.vault, claimed.job)
            recorder.secrets_of_job[job_id] = reached.masks
            spec = playbook_spec(claimed, reached.target, self.settings.playbook_dir)
        except NewRemoraError as exc:
            recorder.finished(job_id, JobResult(None, "internal", f"{claimed.job.playbook}: {exc.message}"))
            return
        try:
            run_playbook_job(
                self.config,
                spec,
                recorder,
                cancel_requested=lambda: job_id in self._cancel_flags,
                stopping=lambda: self._stop.is_set() or slot.retired,
            )
        except Exception:
            log.exception("playbook job %s failed to run", job_id)
            recorder.finished(job_id, JobResult(None, "internal", "the Ansible run failed to start"))
        finally:
            self._cancel_flags.discard(job_id)

    def _run_commands(
        self,
        claimed: list[Claimed],
        recorder: JobRecorder,
        slot: _Slot,
        register: Callable[[list[Claimed], bool], None],
    ) -> None:
        def specs_of(batch: list[Claimed]) -> list[JobSpec]:
            specs = []
            for item in batch:
                try:
                    reached = reach(item.server, self.vault, item.job)
                except NewRemoraError as exc:
                    recorder.finished(item.job.id, JobResult(None, "internal", str(exc)))
                    continue
                recorder.secrets_of_job[item.job.id] = reached.masks
                specs.append(job_spec(item, reached.target))
            return specs

        def join_first(room: int) -> list[JobSpec]:
            # Jobs queued while this run's Ansible started join its first round; nothing is waited for.
            slot.round_started = time.monotonic()
            try:
                batch = self._claim(commands_only=True, limit=room)
            except Exception as exc:
                log.warning("claiming failed: %s", exc, exc_info=not isinstance(exc, NewRemoraError))
                return []
            finally:
                slot.starting = False  # only now: until its claim is done, the queued jobs are left to it
            register(batch, True)
            return specs_of(batch)

        def requeue(job_ids: list[str]) -> None:
            try:
                self.database.call(requeue_jobs, self.events, self.worker_id, job_ids)
            except Exception as exc:  # they stay running: a later claim re-attaches to them
                log.warning("could not queue %d jobs again: %s", len(job_ids), exc)

        def next_round() -> list[JobSpec]:
            # Later rounds take command and script jobs only: a playbook job has an Ansible run of its own.
            while batch := self._claim_next_round(slot):
                register(batch, False)
                specs = specs_of(batch)
                if specs:
                    return specs
            return []

        specs = specs_of(claimed)
        if not specs:
            return
        started = time.monotonic()
        slot.starting = True  # until its first round's take (join_first), or its end
        try:
            left = run_jobs(
                self.config,
                specs,
                recorder,
                lambda: self._stop.is_set() or slot.retired,
                _Rounds(join_first, next_round, requeue),
                self.settings.batch_size,
            )
            log.debug("a run that began with %d jobs ended after %.1f s", len(specs), time.monotonic() - started)
        except Exception:
            log.exception("a batch of %d jobs failed to run", len(specs))
            for spec in specs:
                recorder.finished(spec.job_id, JobResult(None, "internal", "the Ansible run failed to start"))
            return
        finally:
            slot.starting = False
        if left:
            log.info("stopping: %d jobs left running on their targets, to be re-attached", len(left))

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
            try:
                if time.monotonic() >= next_heartbeat:
                    self.database.call(heartbeat, self.worker_id)
                    next_heartbeat = time.monotonic() + HEARTBEAT_S
                self._carry_cancels()
                self._replace_stalled_slots()
            except Exception as exc:
                log.warning("supervisor: %s", exc, exc_info=not isinstance(exc, NewRemoraError))

    def _replace_stalled_slots(self) -> None:
        """A thread that died, or whose run has shown no sign of life for the stall timeout, is retired: its
        Ansible run is ended, its jobs are handed back to be re-attached, and a new thread takes its place."""
        stall_s = self.settings.stall_timeout
        for slot in list(self._slots):
            if slot.retired or (slot.alive() and time.monotonic() - slot.last_beat < stall_s):
                continue
            log.error(
                "%s %s; its %d jobs are re-attached",
                slot.name,
                "died" if not slot.alive() else f"stalled for {stall_s} s",
                len(slot.jobs),
            )
            slot.retired = True
            if slot.jobs:
                self.database.call(release_jobs, self.worker_id, slot.jobs)
            self._slots.remove(slot)
            self._start_slot(f"{slot.name}+")

    def _carry_cancels(self) -> None:
        if not any(slot.jobs for slot in self._slots):
            return  # nothing of ours runs: nothing to cancel
        now = time.monotonic()
        for job in self.database.call(cancel_requests, self.worker_id):
            if job.kind == "playbook":
                self._cancel_flags.add(job.id)  # its run ends at once: the playbook runs inside it
                continue
            if now - self._killing.get(job.id, -KILL_RETRY_S) < KILL_RETRY_S:
                continue
            self._killing[job.id] = now
            target = target_for(job.server, self.vault, job)
            threading.Thread(target=self._kill, args=(job.id, target), name="kill", daemon=True).start()

    def _kill(self, job_id: str, target: Target) -> None:
        with jobs_in_context([job_id]):
            errors = kill_jobs(self.config, {job_id: target})
            if errors.get(job_id):
                log.warning("cancel of job %s: %s (will retry)", job_id, errors[job_id])
