"""Stopping running jobs on their targets: a small play that signals each job's process group."""

from __future__ import annotations

from typing import Any

from app.runner.engine import run_playbook
from app.runner.failures import classify_unreachable, describe
from app.runner.run_dir import RunDirectory, job_alias
from app.runner.spec import RunnerConfig, Target


def kill_jobs(config: RunnerConfig, jobs: dict[str, Target]) -> dict[str, str | None]:
    """TERM, then KILL after the grace period; returns job id -> None when done, or the error."""
    outcome: dict[str, str | None] = {job_id: "no answer from the kill play" for job_id in jobs}
    by_alias = {job_alias(job_id): job_id for job_id in jobs}

    def on_event(event: dict[str, Any]) -> None:
        data = event.get("event_data") or {}
        job_id = by_alias.get(str(data.get("host", "")))
        if job_id is None:
            return
        res = data.get("res") or {}
        if event.get("event") == "runner_on_ok":
            outcome[job_id] = None
        elif event.get("event") == "runner_on_unreachable":
            message = str(res.get("msg", ""))
            outcome[job_id] = describe(classify_unreachable(message), message)
        elif event.get("event") == "runner_on_failed":
            outcome[job_id] = str(res.get("stderr") or res.get("msg") or "kill failed")[:500]

    with RunDirectory(config) as run_dir:
        hosts = {
            job_alias(job_id): {**run_dir.connection_vars(target), "nr_job_id": job_id, "nr_grace": config.kill_grace_s}
            for job_id, target in jobs.items()
        }
        inventory = run_dir.write_inventory(hosts)
        run_playbook(config, run_dir, "cancel.yml", inventory, len(jobs), on_event, lambda: False)
    return outcome
