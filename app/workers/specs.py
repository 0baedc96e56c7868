"""A claimed job as the runner's spec: what to run, on which target (credentials decrypted here, by app/reach.py)."""

from __future__ import annotations

import json
from pathlib import Path

from app.jobqueue.claim import Claimed
from app.playbooks import find_playbook, open_directory
from app.runner.playbook_jobs import host_alias
from app.runner.spec import JobSpec, PlaybookSpec, Target
from app.template_params import as_environment


def _parameters(claimed: Claimed, secret: dict[str, str]) -> dict[str, object]:
    """The job's non-secret parameter values (a template launch); the secret ones are recorded redacted."""
    recorded: dict[str, object] = json.loads(claimed.job.parameters) if claimed.job.parameters else {}
    return {name: value for name, value in recorded.items() if name not in secret}


def job_spec(claimed: Claimed, target: Target, secret_parameters: dict[str, str] | None = None) -> JobSpec:
    """``secret_parameters``: the job's secret parameter values, decrypted (app/reach.py)."""
    job = claimed.job
    secret = secret_parameters or {}
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
        environment={name: as_environment(value) for name, value in _parameters(claimed, secret).items()},
        secret_environment=dict(secret),
    )


def playbook_spec(
    claimed: Claimed, target: Target, playbook_dir: Path | None, secret_parameters: dict[str, str] | None = None
) -> PlaybookSpec:
    """What the runner needs for a playbook job; the playbook is found again now (it may have gone)."""
    job = claimed.job
    secret = secret_parameters or {}
    return PlaybookSpec(
        job_id=job.id,
        playbook=find_playbook(open_directory(playbook_dir), job.playbook or "").path,
        extra_vars=json.loads(job.extra_vars) if job.extra_vars else {},
        timeout=job.timeout,
        target=target,
        host_alias=host_alias(claimed.server.name, job.id),
        parameters=_parameters(claimed, secret),
        secret_parameters=dict(secret),
    )
