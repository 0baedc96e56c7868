"""Running a batch of jobs in one ansible-runner run, one inventory host alias per job."""

from __future__ import annotations

import base64
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from app.runner.engine import run_playbook
from app.runner.failures import become_refused, classify_unreachable, describe
from app.runner.inventory import HostVars, RunDirectory, job_alias
from app.runner.polls import PollAnswer, PollFormatError, parse_poll
from app.runner.spec import JobListener, JobResult, JobSpec, RunnerConfig, Stream, Target

log = logging.getLogger(__name__)

# The poll loop ends when the job does (its own timeout bounds it), never by running out of retries.
POLL_RETRIES = 10_000_000


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def job_vars(spec: JobSpec, token: str, config: RunnerConfig) -> HostVars:
    return {
        "nr_job_id": spec.job_id,
        "nr_kind": spec.kind,
        "nr_shell_b64": _b64(spec.shell) if spec.shell else "-",
        "nr_payload_b64": _b64(spec.payload),
        "nr_timeout": spec.timeout,
        "nr_grace": config.kill_grace_s,
        "nr_token": token,
        "nr_stdout_offset": spec.stdout_offset,
        "nr_stderr_offset": spec.stderr_offset,
        "nr_poll_wait": config.poll_wait_s,
        "nr_chunk_bytes": config.chunk_bytes,
        "nr_poll_retries": POLL_RETRIES,
        "nr_reattach": spec.reattach,
        "nr_attempt": spec.attempt,
    }


def result_of(answer: PollAnswer, spec: JobSpec) -> JobResult:
    code = answer.exit_code
    if answer.reason == "timeout":
        return JobResult(code, "timeout", f"timed out after {spec.timeout} s")
    if answer.reason == "canceled":
        return JobResult(None, "canceled", "canceled before it started")
    if code == 0:
        return JobResult(0, None, None)
    return JobResult(code, "nonzero_exit", f"exited with code {code}")


def _message(res: dict[str, Any]) -> str:
    parts = [str(res.get(key) or "") for key in ("msg", "stderr", "stdout")]
    return "\n".join(part for part in parts if part.strip())


@dataclass
class _Tracker:
    spec: JobSpec
    offsets: dict[Stream, int] = field(default_factory=dict)
    finished: bool = False

    def __post_init__(self) -> None:
        self.offsets = {"stdout": self.spec.stdout_offset, "stderr": self.spec.stderr_offset}


class _BatchEvents:
    """Routes ansible-runner events to jobs by host alias."""

    def __init__(self, specs: list[JobSpec], listener: JobListener, run_dir: RunDirectory) -> None:
        self.trackers = {job_alias(spec.job_id): _Tracker(spec) for spec in specs}
        self.listener = listener
        self.run_dir = run_dir
        self.keys_checked: set[str] = set()

    def learn_host_key(self, target: Target) -> None:
        """Store a key trusted on first use as soon as the target answered, before its job can end."""
        if target.host_key is not None or target.server_id in self.keys_checked:
            return
        self.keys_checked.add(target.server_id)
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
        tracker = self.trackers.get(str(data.get("host", "")))
        if tracker is None or tracker.finished:
            return
        kind = event.get("event")
        task = data.get("task")
        res = data.get("res") or {}
        if kind in ("runner_on_ok", "runner_retry", "runner_on_failed"):
            self.learn_host_key(tracker.spec.target)
        if kind == "runner_on_unreachable":
            message = _message(res)
            reason = classify_unreachable(message)
            error = describe(reason, message)
            if tracker.spec.reattach:
                # The job may have gone on without us; what it did since is unknown.
                reason, error = "interrupted", f"could not re-attach to the running job: {error}"
            self.finish(tracker, JobResult(None, reason, error))
        elif task == "poll" and kind in ("runner_retry", "runner_on_ok"):
            self.on_poll(tracker, str(res.get("stdout", "")))
        elif kind == "runner_on_failed" and task in ("start", "poll"):
            message = _message(res)
            reason = classify_unreachable(message)
            if reason == "host_key_mismatch":
                self.finish(tracker, JobResult(None, reason, describe(reason, message)))
            elif become_refused(message):
                user = tracker.spec.target.become_user
                error = f"sudo refused to run the job as {user!r} (check the become password and sudoers)"
                self.finish(tracker, JobResult(None, "auth_failed", error))
            else:
                self.finish(tracker, JobResult(None, "internal", f"{task} failed on the target: {message[:1000]}"))

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
        for stream, offset, chunk in (
            ("stdout", answer.stdout_offset, answer.stdout),
            ("stderr", answer.stderr_offset, answer.stderr),
        ):
            expected = tracker.offsets[stream]  # type: ignore[index]
            if offset > expected:
                log.error("job %s: %s gap between byte %d and %d", job_id, stream, expected, offset)
            skip = max(0, expected - offset)  # a repeated answer: keep only what is new
            if len(chunk) > skip:
                start = offset + skip
                self.listener.output(job_id, stream, chunk[skip:], start)  # type: ignore[arg-type]
                tracker.offsets[stream] = start + len(chunk) - skip  # type: ignore[index]
        if answer.done:
            self.finish(tracker, result_of(answer, tracker.spec))


def run_jobs(
    config: RunnerConfig, specs: list[JobSpec], listener: JobListener, should_stop: Callable[[], bool]
) -> list[str]:
    """Run the jobs; returns the ids of those left unfinished because the run was stopped (still detached)."""
    token = secrets.token_hex(8)
    with RunDirectory(config) as run_dir:
        events = _BatchEvents(specs, listener, run_dir)
        hosts = {
            job_alias(spec.job_id): {**run_dir.connection_vars(spec.target), **job_vars(spec, token, config)}
            for spec in specs
        }
        inventory = run_dir.write_inventory(hosts)
        outcome = run_playbook(config, run_dir, "run_job.yml", inventory, len(specs), events, should_stop)
    left = [t for t in events.trackers.values() if not t.finished]
    if left and should_stop():
        return [t.spec.job_id for t in left]
    for tracker in left:
        detail = outcome.stdout_tail.strip().splitlines()[-1:] or [""]
        events.finish(
            tracker,
            JobResult(None, "internal", f"the Ansible run ended ({outcome.status}) before the job did: {detail[0]}"),
        )
    return []
