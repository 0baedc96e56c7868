"""Connectivity checks: `echo 'test'` on each server through Ansible, all in one run."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from app.runner.engine import run_playbook
from app.runner.failures import classify_unreachable, complete, describe, failed_task
from app.runner.run_dir import RunDirectory, server_alias
from app.runner.spec import RunnerConfig, Target

TEST_COMMAND: Final = "echo 'test'"


@dataclass(frozen=True)
class CheckResult:
    connected: bool
    response_time_ms: int | None
    output: str | None
    message: str
    failure_reason: str | None = None


def failed_check(message: str) -> CheckResult:
    """A failed test task: a password login meeting a changed host key fails the task, not the host, in
    Ansible's eyes; it is the same host key mismatch a job on the server reports."""
    known = failed_task(message, None)
    if known is not None:
        return CheckResult(False, None, None, known.error, known.reason)
    return CheckResult(False, None, None, complete(message[:500], "the test command failed"), "internal")


def check_targets(
    config: RunnerConfig, targets: list[Target], on_host_key: Callable[[str, str], None]
) -> dict[str, CheckResult]:
    """Server id -> result. ``on_host_key`` gets keys trusted on first use during the check."""
    results: dict[str, CheckResult] = {}
    by_alias = {server_alias(t.server_id): t.server_id for t in targets}
    task_started: dict[str, float] = {}

    def on_event(event: dict[str, Any]) -> None:
        data = event.get("event_data") or {}
        kind = event.get("event")
        if kind == "playbook_on_task_start":
            task_started["at"] = time.monotonic()
            return
        server_id = by_alias.get(str(data.get("host", "")))
        if server_id is None:
            return
        res = data.get("res") or {}
        elapsed_ms = round((time.monotonic() - task_started.get("at", time.monotonic())) * 1000)
        if kind == "runner_on_ok":
            output = str(res.get("stdout", "")).strip()
            results[server_id] = CheckResult(True, elapsed_ms, output, "Connection successful")
        elif kind == "runner_on_unreachable":
            message = str(res.get("msg", ""))
            reason = classify_unreachable(message)
            results[server_id] = CheckResult(False, None, None, describe(reason, message), reason)
        elif kind == "runner_on_failed":
            results[server_id] = failed_check(str(res.get("stderr") or res.get("msg") or ""))

    with RunDirectory(config) as run_dir:
        hosts = {server_alias(t.server_id): run_dir.connection_vars(t) for t in targets}
        inventory = run_dir.write_inventory(hosts)
        run_playbook(config, run_dir, "check.yml", inventory, len(targets), on_event, lambda: False)
        for target in targets:
            learned = run_dir.learned_host_key(target)
            if learned:
                on_host_key(target.server_id, learned)
    for target in targets:
        results.setdefault(target.server_id, CheckResult(False, None, None, "no answer from Ansible", "internal"))
    return results
