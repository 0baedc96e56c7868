"""Running one playbook job: a user's playbook in its own ansible-runner run against one server.

Unlike command jobs (started detached and polled), a playbook runs inside ansible-playbook from start to end,
so a run belongs to one job: its timeout, its cancel and its end are that job's alone. The play's display
output becomes the job's stdout; each task result becomes a TaskEvent; the play recap decides the result.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from app.runner.engine import RunOutcome, run_playbook
from app.runner.extravars import write_extra_vars, write_secret_vars
from app.runner.failures import Failure, classify_unreachable, describe, failed_task, sudo_refused
from app.runner.run_dir import HOST_ALIAS, RunDirectory, job_alias
from app.runner.spec import JobResult, PlaybookListener, PlaybookSpec, RunnerConfig, TaskEvent, TaskStatus

log = logging.getLogger(__name__)

# How often a running playbook is asked whether it must stop (a cancel, or the service stopping).
STOP_CHECK_S: Final = 0.5
# A task's own output in its event; the whole of it stays in the job's stdout only if the play displays it.
MAX_FIELD_CHARS: Final = 64 * 1024
RESULT_EVENTS: dict[str, TaskStatus] = {
    "runner_on_ok": "ok",
    "runner_on_failed": "failed",
    "runner_on_skipped": "skipped",
    "runner_on_unreachable": "unreachable",
}


def _text(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    if len(text) > MAX_FIELD_CHARS:
        return text[:MAX_FIELD_CHARS] + f"\n[newremora: {len(text) - MAX_FIELD_CHARS} characters omitted]"
    return text


# Names Ansible gives a meaning of its own in host patterns.
RESERVED_HOST_NAMES: Final = frozenset({"all", "ungrouped", "localhost"})


def host_alias(server_name: str, job_id: str) -> str:
    """The server's name as the play's inventory_hostname, where Ansible can take it as a plain host name."""
    if HOST_ALIAS.fullmatch(server_name) and server_name.lower() not in RESERVED_HOST_NAMES:
        return server_name
    return job_alias(job_id)


def task_event(kind: str, data: dict[str, Any]) -> TaskEvent:
    res = data.get("res") or {}
    status = RESULT_EVENTS[kind]
    changed = bool(res.get("changed", False))
    if status == "ok" and changed:
        status = "changed"
    rc = res.get("rc")
    return TaskEvent(
        host=str(data.get("host", "")),
        play=_text(data.get("play")),
        task=_text(data.get("task")),
        action=_text(data.get("task_action")),
        status=status,
        changed=changed,
        ignored=status == "failed" and bool(data.get("ignore_errors")),
        rc=rc if isinstance(rc, int) and not isinstance(rc, bool) else None,
        msg=_text(res.get("msg")),
        # A module that failed before it could answer has its output in module_stdout / module_stderr.
        stdout=_text(res.get("stdout") or res.get("module_stdout")),
        stderr=_text(res.get("stderr") or res.get("module_stderr")),
    )


@dataclass
class _PlaybookEvents:
    spec: PlaybookSpec
    listener: PlaybookListener
    run_dir: RunDirectory
    stdout_offset: int = 0
    host_key_checked: bool = False
    # The last task that failed and was not ignored: the one the job's error names.
    failed_task: TaskEvent | None = None
    unreachable_task: TaskEvent | None = None
    recap: dict[str, int] = field(default_factory=dict)
    seen_results: bool = False

    def __call__(self, event: dict[str, Any]) -> None:
        self.listener.progress()
        display = event.get("stdout")
        if display:
            data = (str(display) + "\n").encode()
            self.listener.output(self.spec.job_id, "stdout", data, self.stdout_offset)
            self.stdout_offset += len(data)
        kind = str(event.get("event", ""))
        event_data = event.get("event_data") or {}
        if kind == "playbook_on_stats":
            self._on_recap(event_data)
            return
        if kind not in RESULT_EVENTS or event_data.get("host") != self.spec.host_alias:
            return
        self.seen_results = True
        if kind != "runner_on_unreachable":
            self._learn_host_key()
        task = task_event(kind, event_data)
        if task.status == "failed" and not task.ignored:
            self.failed_task = task
        if task.status == "unreachable":
            self.unreachable_task = task
        self.listener.task(self.spec.job_id, task)

    def _learn_host_key(self) -> None:
        target = self.spec.target
        if self.host_key_checked or target.host_key is not None:
            return
        self.host_key_checked = True
        learned = self.run_dir.learned_host_key(target)
        if learned:
            self.listener.host_key_seen(target.server_id, learned)

    def _on_recap(self, data: dict[str, Any]) -> None:
        host = self.spec.host_alias
        for counter in ("ok", "changed", "failures", "dark", "skipped", "rescued", "ignored", "processed"):
            counts = data.get(counter) or {}
            if host in counts:
                self.recap[counter] = int(counts[host])


# What Ansible says of a module run through sudo when sudo refused the user (a rule for other become users only):
# sudo's own words are consumed with its prompt, and the module never ran: exit code 1, no output at all.
SILENT_SUDO_REFUSAL: Final = "module result deserialization failed"


def playbook_task_failure(task: TaskEvent, become_user: str | None) -> Failure | None:
    """A failed task's reason when it is about the connection or sudo rather than the task itself."""
    known = failed_task(f"{task.msg}\n{task.stderr}", become_user)
    if known is not None or become_user is None:
        return known
    silent = not (task.stdout.strip() or task.stderr.strip())
    if silent and task.rc == 1 and SILENT_SUDO_REFUSAL in task.msg.lower():
        return Failure("auth_failed", sudo_refused(become_user))
    return None


def playbook_result(events: _PlaybookEvents, outcome: RunOutcome, canceled: bool, stopping: bool) -> JobResult:
    """The job's end, from the play recap (or from why the run was cut short)."""
    spec, host = events.spec, events.spec.host_alias
    if canceled:
        return JobResult(None, "canceled", "canceled by request")
    if stopping:
        return JobResult(
            None, "interrupted", "the service stopped while the playbook ran (a playbook run cannot be re-attached)"
        )
    if outcome.status == "timeout":
        return JobResult(None, "timeout", f"timed out after {spec.timeout} s")
    recap = events.recap
    if recap.get("dark") or (events.unreachable_task is not None and not recap):
        task = events.unreachable_task
        message = task.msg if task is not None else ""
        reason = classify_unreachable(message)
        where = f" at task {task.task!r}" if task is not None and task.task else ""
        return JobResult(None, reason, f"{host} unreachable{where}: {describe(reason, message)}")
    if recap.get("failures") or (events.failed_task is not None and not recap):
        task = events.failed_task
        known = playbook_task_failure(task, spec.target.become_user) if task is not None else None
        if known is not None:
            return JobResult(None, known.reason, known.error)
        if task is None:
            return JobResult(outcome.rc, "task_failed", f"a task failed on {host}")
        detail = (task.msg or task.stderr or task.stdout).strip().splitlines()
        summary = f": {detail[0][:500]}" if detail else ""
        return JobResult(outcome.rc, "task_failed", f"task {task.task!r} failed on {host}{summary}")
    if outcome.status != "successful":
        lines = [line for line in outcome.stdout_tail.strip().splitlines() if line.strip()]
        last_line = lines[-1][:500] if lines else f"ansible-playbook exited with code {outcome.rc}"
        return JobResult(outcome.rc, "internal", f"the playbook did not run: {last_line}")
    if not events.seen_results and not recap:
        return JobResult(
            None,
            "internal",
            f"no play of {spec.playbook.name} ran on {host}: its plays must target the server (hosts: all)",
        )
    return JobResult(0, None, None)


def run_playbook_job(
    config: RunnerConfig,
    spec: PlaybookSpec,
    listener: PlaybookListener,
    cancel_requested: Callable[[], bool],
    stopping: Callable[[], bool],
) -> None:
    """Run the playbook against the job's server and report everything to ``listener``, ending with finished."""

    def should_stop() -> bool:
        # Asked every STOP_CHECK_S while the run lasts: a sign of life even through a task that prints nothing
        # for minutes (the job's timeout bounds a playbook that hangs).
        listener.progress()
        return cancel_requested() or stopping()

    with RunDirectory(config) as run_dir:
        events = _PlaybookEvents(spec, listener, run_dir)
        hosts = {spec.host_alias: run_dir.connection_vars(spec.target)}
        inventory = run_dir.write_inventory(hosts)
        # A template's parameter values win over its extra vars of the same name; its secret ones go by handle.
        given = {**spec.extra_vars, **spec.parameters}
        files = [write_extra_vars(run_dir.path, given)] if given else []
        if spec.secret_parameters:
            handles = {name: run_dir.secret_socket.handle_for(value) for name, value in spec.secret_parameters.items()}
            files.append(write_secret_vars(run_dir.path, handles))
        outcome = run_playbook(
            config,
            run_dir,
            spec.playbook,
            inventory,
            1,
            events,
            should_stop,
            extra_vars_files=files,
            timeout_s=spec.timeout,
            stop_check_s=STOP_CHECK_S,
        )
    canceled = outcome.status == "canceled" and cancel_requested()
    result = playbook_result(events, outcome, canceled, outcome.status == "canceled" and not canceled)
    listener.finished(spec.job_id, result)
