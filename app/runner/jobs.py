"""Running a batch of jobs in one ansible-runner run, one inventory host alias per job."""

from __future__ import annotations

import base64
import logging
import os
import re
import secrets
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

from app.runner.engine import run_playbook
from app.runner.failures import DESCRIPTIONS, classify_unreachable, complete, describe, failed_task, never_connected
from app.runner.polls import PollAnswer, PollFormatError, parse_poll
from app.runner.run_dir import HostVars, RunDirectory, job_alias
from app.runner.spec import JobListener, JobResult, JobSpec, RoundSource, RunnerConfig, Stream, Target

log = logging.getLogger(__name__)

# As many as playbooks/run_jobs.yml imports rounds; the name its take plays begin with.
ROUNDS_PER_RUN: Final = 32
TAKE_PLAY: Final = re.compile(r"NewRemora take round (\d+)")
# The task of playbooks/job_round.yml that starts and polls a job.
JOB_TASK: Final = "job"
# How long a run waits for its next round before it ends by itself (the service answers within a few seconds).
ROUND_WAIT_S: Final = 120
# How long a job waits for the job of its round that opens their shared ssh connection before it opens its own
# (that job's first answer ends the wait sooner: it connected or failed to).
AFTER_WAIT_S: Final = 30
# What a job's nr_after says when it waits for no other job.
NO_WAIT: Final = "-"
# start.sh's word for "no environment variables" (and no secret ones).
NO_ENVIRONMENT: Final = "-"
# Starts the word naming a run's secret-socket handle in a start command (the connection plugin looks for it).
SECRET_MARKER: Final = "nrsecret-"  # noqa: S105 (a marker, not a secret)
# The events of a job's task that come after its connection was tried (runner_on_start comes before).
ANSWERS: Final = frozenset(
    {"runner_on_ok", "runner_retry", "runner_on_failed", "runner_on_unreachable", "runner_on_skipped"}
)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def environment_arg(environment: dict[str, str]) -> str:
    """Environment variables as one word for start.sh: ``name=BASE64,name=BASE64`` ("-": none). The names are
    checked identifiers ([a-z][a-z0-9_]*, app/template_params.py) and the values base64: no shell ever reads a
    value as code, and Ansible never templates one (base64 has no braces)."""
    if not environment:
        return NO_ENVIRONMENT
    return ",".join(f"{name}={_b64(value)}" for name, value in environment.items())


def secret_marker(run_dir: RunDirectory, spec: JobSpec) -> str:
    """For a job with secret environment variables, ``nrsecret-HANDLE``: the newremora_ssh connection plugin
    sees it in the start command, fetches the variables from the run's secret socket and writes them to that
    command's stdin, where start.sh reads them. The handle is worth nothing once the run ends."""
    if not spec.secret_environment:
        return NO_ENVIRONMENT
    return SECRET_MARKER + run_dir.secret_socket.handle_for(environment_arg(spec.secret_environment) + "\n")


def run_vars(token: str, config: RunnerConfig) -> HostVars:
    """What every job of a run shares: the scripts (sent with each command: ``raw`` needs nothing installed) and
    the poll settings."""
    files = config.playbooks_dir / "files"
    return {
        # Quoted for the target's shell, which hands each to `bash -c` (no decoding step: one process less).
        "nr_start_sh": shlex.quote((files / "start.sh").read_text()),
        "nr_poll_sh": shlex.quote((files / "poll.sh").read_text()),
        "nr_token": token,
        "nr_grace": config.kill_grace_s,
        "nr_poll_wait_ms": config.poll_wait_ms,
        "nr_chunk_bytes": config.chunk_bytes,
    }


def job_vars(spec: JobSpec, after: str = NO_WAIT) -> HostVars:
    """The job's own variables; ``after``: the job of its round that opens its new ssh connection."""
    return {
        "nr_job_id": spec.job_id,
        "nr_after": after,
        "nr_kind": spec.kind,
        "nr_shell_b64": _b64(spec.shell) if spec.shell else "-",
        "nr_payload_b64": _b64(spec.payload),
        "nr_env": environment_arg(spec.environment),
        "nr_timeout": spec.timeout,
        "nr_stdout_offset": spec.stdout_offset,
        "nr_stderr_offset": spec.stderr_offset,
        "nr_reattach": spec.reattach,
        "nr_attempt": spec.attempt,
    }


def result_of(answer: PollAnswer, spec: JobSpec) -> JobResult:
    code, ran_for = answer.exit_code, answer.ran_for
    if answer.reason == "timeout":
        return JobResult(code, "timeout", f"timed out after {spec.timeout} s", ran_for)
    if answer.reason == "canceled":
        return JobResult(None, "canceled", "canceled before it started")
    if code == 0:
        return JobResult(0, None, None, ran_for)
    return JobResult(code, "nonzero_exit", f"exited with code {code}", ran_for)


def start_failure(message: str, target: Target) -> JobResult:
    """The job's end when its task failed: the connection or sudo refused it, or the scripts could not start it."""
    known = failed_task(message, target.become_user)
    if known is not None:
        return JobResult(None, known.reason, known.error)
    return JobResult(None, "internal", f"the job failed to start: {complete(message[:1000], DESCRIPTIONS['internal'])}")


def _message(res: dict[str, Any]) -> str:
    parts = [str(res.get(key) or "") for key in ("msg", "stderr", "stdout")]
    return "\n".join(part for part in parts if part.strip())


@dataclass
class _Tracker:
    spec: JobSpec
    offsets: dict[Stream, int] = field(default_factory=dict)
    finished: bool = False
    # The target answered this claim's poll at least once: the job runs (or ran) there.
    answered: bool = False

    def __post_init__(self) -> None:
        self.offsets = {"stdout": self.spec.stdout_offset, "stderr": self.spec.stderr_offset}

    def may_have_started(self, message: str) -> bool:
        """Whether the job may run on its target although its connection failed: it answered, it was running
        (a re-attach), an earlier claim may have started it, or the connection closed after it was opened."""
        return self.answered or self.spec.reattach or self.spec.attempt > 1 or not never_connected(message)


class _BatchEvents:
    """Routes ansible-runner events to jobs by host alias, and hands the run its next round when one begins."""

    def __init__(self, listener: JobListener, rounds: _Rounds, should_stop: Callable[[], bool]) -> None:
        self.trackers: dict[str, _Tracker] = {}
        self.listener = listener
        self.rounds = rounds
        self.should_stop = should_stop
        self.run_dir = rounds.run_dir
        self.keys_checked: set[str] = set()

    def track(self, specs: list[JobSpec]) -> None:
        for spec in specs:
            self.trackers[job_alias(spec.job_id)] = _Tracker(spec)

    def hand_over(self, specs: list[JobSpec]) -> None:
        self.track(specs)
        self.rounds.write_next(specs)

    def on_round_start(self, number: int) -> None:
        """The run asks for round ``number``: the previous one is over for Ansible (every job in it ended).
        Round 1 was in the inventory when Ansible started; the jobs queued during its start-up join it now."""
        if self.rounds.ended():
            return  # the remaining rounds pass without hosts
        if number == 1:
            joining = self.rounds.joining_first()
            self.track(joining)
            self.rounds.ready_first(joining)
            return
        for tracker in self.trackers.values():
            if not tracker.finished:
                self.finish(tracker, JobResult(None, "internal", "the Ansible round ended before the job did"))
        specs = [] if self.should_stop() else self.rounds.next_specs()  # a stopping run takes no new round
        if specs:
            self.hand_over(specs)
        else:
            self.rounds.end()

    def learn_host_key(self, target: Target) -> None:
        """Store a key trusted on first use as soon as the target answered, before its job can end."""
        # Per credential digest, which changes with the trusted key: a server re-trusted between two rounds of
        # this run learns its key again.
        if target.host_key is not None or target.credential_digest in self.keys_checked:
            return
        self.keys_checked.add(target.credential_digest)
        learned = self.run_dir.learned_host_key(target)
        if learned:
            self.listener.host_key_seen(target.server_id, learned)

    def finish(self, tracker: _Tracker, result: JobResult) -> None:
        if not tracker.finished:
            tracker.finished = True
            self.listener.finished(tracker.spec.job_id, result)

    def __call__(self, event: dict[str, Any]) -> None:
        self.listener.progress()
        data = event.get("event_data") or {}
        if event.get("event") == "playbook_on_play_start":
            take = TAKE_PLAY.fullmatch(str(data.get("play", "")))
            if take:
                self.on_round_start(int(take.group(1)))
            return
        tracker = self.trackers.get(str(data.get("host", "")))
        if tracker is None:
            return
        kind = event.get("event")
        if kind in ANSWERS and tracker.spec.job_id in self.rounds.openers:
            self.rounds.openers.discard(tracker.spec.job_id)
            self.rounds.tried(tracker.spec.job_id)
        if tracker.finished:
            return
        task = data.get("task")
        res = data.get("res") or {}
        if kind in ("runner_on_ok", "runner_retry", "runner_on_failed"):
            self.learn_host_key(tracker.spec.target)
        if kind == "runner_on_unreachable":
            message = _message(res)
            reason = classify_unreachable(message)
            error = describe(reason, message)
            if tracker.may_have_started(message):
                # The job may well go on there: the service re-attaches to it later (or gives up on it after the
                # reconnect grace period).
                tracker.finished = True
                self.listener.lost_contact(tracker.spec.job_id, error)
            else:
                self.finish(tracker, JobResult(None, reason, error))
        elif task == JOB_TASK and kind in ("runner_retry", "runner_on_ok"):
            self.on_poll(tracker, str(res.get("stdout", "")))
        elif kind == "runner_on_failed" and task == JOB_TASK:
            self.finish(tracker, start_failure(_message(res), tracker.spec.target))

    def on_poll(self, tracker: _Tracker, stdout: str) -> None:
        try:
            answer = parse_poll(stdout)
        except PollFormatError as exc:
            self.finish(tracker, JobResult(None, "internal", str(exc)))
            return
        if answer.gone:
            self.finish(tracker, JobResult(None, "interrupted", "the job's state on the target is gone"))
            return
        job_id = tracker.spec.job_id
        if not tracker.answered:
            tracker.answered = True
            if not answer.done:
                self.listener.started(job_id)
        lost: list[str] = []
        for stream, offset, chunk in (
            ("stdout", answer.stdout_offset, answer.stdout),
            ("stderr", answer.stderr_offset, answer.stderr),
        ):
            expected = tracker.offsets[stream]  # type: ignore[index]
            if offset > expected:
                # Only a tombstone answers past what we hold: the end was sent to a controller that died.
                log.error(
                    "job %s: %s gap between byte %d and %d", job_id, stream, expected, offset, extra={"job_id": job_id}
                )
                lost.append(f"{offset - expected} bytes of {stream}")
            skip = max(0, expected - offset)  # a repeated answer: keep only what is new
            if len(chunk) > skip:
                start = offset + skip
                self.listener.output(job_id, stream, chunk[skip:], start)  # type: ignore[arg-type]
                tracker.offsets[stream] = start + len(chunk) - skip  # type: ignore[index]
        if answer.done:
            result = result_of(answer, tracker.spec)
            if lost:
                note = f"the end of the output was lost when the service stopped ({', '.join(lost)})"
                result = replace(result, error="; ".join(filter(None, [result.error, note])))
            self.finish(tracker, result)


class _Rounds:
    """The rounds of one run: each rewrites the run's inventory, which the playbook reads again once the nr_round
    lookup (playbooks/lookup_plugins) has seen the round's ``N.ready`` file."""

    def __init__(
        self,
        run_dir: RunDirectory,
        config: RunnerConfig,
        source: RoundSource | None,
        max_batch: int = 0,
    ) -> None:
        self.run_dir = run_dir
        self.source = source
        self.max_batch = max_batch
        self.shared = run_vars(secrets.token_hex(8), config)
        self.dir = run_dir.path / "rounds"
        self.dir.mkdir(mode=0o700)
        self.written = 0
        self.first: list[JobSpec] = []
        # The credentials whose connection a written round opens (or failed to: their jobs no longer wait in
        # later rounds, and an unreachable server's jobs fail together), and, for every job that waits for a job
        # of its round to open its new connection, that job's id.
        self.opened: set[str] = set()
        self.after: dict[str, str] = {}
        self.openers: set[str] = set()

    def next_specs(self) -> list[JobSpec]:
        if self.source is None or self.written >= ROUNDS_PER_RUN:
            return []
        return self.source.next_round()

    def _master_up(self, target: Target) -> bool:
        return (self.run_dir.config.control_dir / target.credential_digest).exists()

    def _openers(self, specs: list[JobSpec]) -> dict[str, str]:
        """For each job that shares a new ssh connection with an earlier job of its round, that job's id. Several
        jobs on a server and credential whose ssh master is not up yet would each open a connection of their own
        (ControlMaster=auto: ~3 CPU-seconds and ~3 s for a first round of 32 jobs on 4 servers, against 0.8 s
        warm): one opens it, and the others wait, on the controller, until it is up (the nr_round lookup), then
        run over it in the same round. They never wait for the round's other jobs (a round ends with its
        longest job)."""
        after: dict[str, str] = {}
        opening: dict[str, str] = {}
        for spec in specs:
            digest = spec.target.credential_digest
            if digest in self.opened or self._master_up(spec.target):
                continue
            if digest in opening:
                after[spec.job_id] = opening[digest]
            else:
                opening[digest] = spec.job_id
        return after

    def _opening(self, specs: list[JobSpec]) -> None:
        self.opened.update(spec.target.credential_digest for spec in specs)

    def write(self, specs: list[JobSpec]) -> Path:
        """The run's inventory for the next round: its jobs in group ``nr_round_N``."""
        self.written += 1
        if self.written == 1:
            self.first = specs
            return self._write_round(specs)
        path = self._write_round(specs)
        self._opening(specs)
        return path

    def _write_round(self, specs: list[JobSpec]) -> Path:
        after = self._openers(specs)
        self.after.update(after)
        self.openers.update(after.values())
        hosts = {
            job_alias(spec.job_id): {
                **self.run_dir.connection_vars(spec.target),
                **job_vars(spec, after.get(spec.job_id, NO_WAIT)),
                "nr_secret": secret_marker(self.run_dir, spec),
            }
            for spec in specs
        }
        return self.run_dir.write_inventory(hosts, group=f"nr_round_{self.written}", run_vars=self.shared)

    def joining_first(self) -> list[JobSpec]:
        """Jobs that join round 1 as Ansible is ready: those queued while it started (never waited for)."""
        room = self.max_batch - len(self.first)
        if self.source is None or room <= 0:
            return []
        return self.source.join_first(room)

    def ready_first(self, joining: list[JobSpec]) -> None:
        if joining:
            self.first = self.first + joining
            self._write_round(self.first)
        self._opening(self.first)
        self._mark("1.ready")

    def tried(self, opener: str) -> None:
        """The job that opens a new connection answered (it connected, or failed to): the jobs that wait for it
        go on (over it, or on their own). Never raises: called from the event handler."""
        try:
            self._mark(f"tried_{opener}")
        except OSError as exc:  # they go on after AFTER_WAIT_S
            log.warning("could not tell the jobs waiting for job %s's connection: %s", opener, exc)

    def never_went(self, job_id: str) -> bool:
        """Whether a job that waited for its connection's opener never went on (and never will: the run is over),
        so never reached its target. Marks it for the nr_round lookup, which then refuses to start it."""
        if job_id not in self.after:
            return False
        try:
            os.close(os.open(self.dir / f"went_{job_id}", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            return False  # it went on: it may have started
        except OSError as exc:
            log.warning("job %s: could not tell whether it started: %s", job_id, exc)
            return False
        return True

    def write_next(self, specs: list[JobSpec]) -> None:
        self.write(specs)
        self._mark(f"{self.written}.ready")
        if self.ended():
            # The playbook gave up waiting for this round (the service stalled for NR_ROUND_WAIT_S): these
            # jobs will not run here; the run's end reports them.
            log.error("round %d was handed over after the run stopped waiting for it", self.written)

    def end(self) -> None:
        self._mark("end")

    def ended(self) -> bool:
        """Whether the run was told there are no more rounds (the remaining ones then pass without hosts)."""
        return (self.dir / "end").exists()

    def _mark(self, name: str) -> None:
        (self.dir / name).touch(mode=0o600)


def run_jobs(
    config: RunnerConfig,
    specs: list[JobSpec],
    listener: JobListener,
    should_stop: Callable[[], bool],
    source: RoundSource | None = None,
    max_batch: int = 0,
) -> list[str]:
    """Run the jobs, with those ``source`` lets join round 1 (up to ``max_batch`` in all) once Ansible has started,
    then, in the same Ansible run, its next rounds (until it has none); returns the ids of jobs left unfinished
    because the run was stopped (still detached on their targets). Jobs the stopped run never started are given
    back to ``source``. Without a source, the run is one round of ``specs``."""
    with RunDirectory(config) as run_dir:
        rounds = _Rounds(run_dir, config, source, max_batch)
        events = _BatchEvents(listener, rounds, should_stop)
        events.track(specs)
        inventory = rounds.write(specs)  # round 1: the run starts with it
        outcome = run_playbook(
            config,
            run_dir,
            "run_jobs.yml",
            inventory,
            max(len(specs), max_batch),
            events,
            should_stop,
            extra_env={
                "NR_ROUNDS_DIR": str(rounds.dir),
                "NR_ROUND_WAIT_S": str(ROUND_WAIT_S),
                "NR_AFTER_WAIT_S": str(AFTER_WAIT_S),
            },
        )
        left = [t for t in events.trackers.values() if not t.finished]
        stopped = bool(left) and should_stop()
        # Jobs that still waited for their connection's opener never reached their target (asked before the run's
        # directory goes): queued again, they run later; the others go on there, to be re-attached.
        give_back = stopped and source is not None
        never_started = {t.spec.job_id for t in left if give_back and rounds.never_went(t.spec.job_id)}
    if stopped:
        if never_started and source is not None:
            source.give_back(sorted(never_started))
            left = [t for t in left if t.spec.job_id not in never_started]
        return [t.spec.job_id for t in left]
    for tracker in left:
        detail = complete((outcome.stdout_tail.strip().splitlines() or [""])[-1], DESCRIPTIONS["internal"])
        error = f"the Ansible run ended ({outcome.status}) before the job did: {detail}"
        events.finish(tracker, JobResult(None, "internal", error))
    return []
