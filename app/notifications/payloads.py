"""What a receiver gets: the event's summary (stored in the outbox when the event happens), completed at sending time
with the link to the job's page, in the target's format (JSON, or Slack-compatible), and its signature."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final
from urllib.parse import quote

from app.clock import rfc3339
from app.settings import Settings

SIGNATURE_HEADER: Final = "X-NewRemora-Signature-256"
EVENT_HEADER: Final = "X-NewRemora-Event"
IDEMPOTENCY_HEADER: Final = "Idempotency-Key"
WILDCARD_HOSTS: Final = ("0.0.0.0", "::", "")  # noqa: S104 (compared with, not bound)
STATUS_EMOJI: Final = {"completed": ":white_check_mark:", "failed": ":x:", "canceled": ":no_entry_sign:"}


def public_url(settings: Settings) -> str:
    """NEWREMORA_PUBLIC_URL, else the listen address (this machine's name for a wildcard address)."""
    if settings.public_url:
        return settings.public_url
    host = socket.gethostname() if settings.host in WILDCARD_HOSTS else settings.host
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.port}"


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds(), 3)


def _time(moment: datetime | None) -> str | None:
    return rfc3339(moment) if moment is not None else None


def job_summary(job: Any, server_name: str) -> dict[str, Any]:
    """A job that ended, as the receiver sees it (``job`` is a Job row with its end recorded)."""
    return {
        "id": job.id,
        "status": job.status,
        "kind": job.kind,
        "exit_code": job.exit_code,
        "failure_reason": job.failure_reason,
        "error": job.error,
        "server": {"id": job.server_id, "name": server_name},
        "batch_id": job.batch_id,
        "template_id": job.template_id,
        "template_version": job.template_version,
        "submitted_by": job.submitted_by,
        "created_at": _time(job.created_at),
        "started_at": _time(job.started_at),
        "finished_at": _time(job.finished_at),
        "queued_seconds": _seconds(job.created_at, job.started_at),
        "run_seconds": _seconds(job.started_at, job.finished_at),
    }


def batch_summary(
    batch_id: str, status: str, counts: Mapping[str, int], created: datetime, finished: datetime | None
) -> dict[str, Any]:
    return {
        "id": batch_id,
        "status": status,
        "counts": dict(counts),
        "jobs": sum(counts.values()),
        "created_at": _time(created),
        "finished_at": _time(finished),
        "run_seconds": _seconds(created, finished),
    }


def link(base: str, event: str, subject_id: str) -> str:
    if event.startswith("batch."):
        return f"{base}/#/jobs?batch_id={quote(subject_id)}"
    return f"{base}/#/jobs/{quote(subject_id)}"


def document(stored: Mapping[str, Any], base: str) -> dict[str, Any]:
    """The JSON body: the stored summary with the link to the page of the job (or of the batch's jobs)."""
    shown = dict(stored)
    subject = shown.get("job") or shown.get("batch") or {}
    if isinstance(subject, dict) and subject.get("id"):
        shown["url"] = link(base, str(shown["event"]), str(subject["id"]))
    return shown


def _slack_text(shown: Mapping[str, Any]) -> str:
    event = str(shown["event"])
    url = shown.get("url")
    if "job" in shown:
        job = shown["job"]
        status = str(job["status"])
        what = f"Job {job['id'][:8]} on {job['server']['name']} {status}"
        if job.get("exit_code") is not None:
            what += f" (exit code {job['exit_code']})"
        if job.get("failure_reason"):
            what += f" ({job['failure_reason']})"
    elif "batch" in shown:
        batch = shown["batch"]
        status = str(batch["status"])
        counts = ", ".join(f"{n} {s}" for s, n in batch["counts"].items() if n)
        what = f"Batch {batch['id'][:8]} of {batch['jobs']} jobs {status} ({counts})"
    else:
        status = ""
        what = f"NewRemora test notification ({event})"
    emoji = STATUS_EMOJI.get(status, ":bell:")
    return f"{emoji} {what}" + (f" <{url}|open>" if url else "")


def slack(shown: Mapping[str, Any]) -> dict[str, Any]:
    """Slack-compatible: ``text`` (the notification's fallback) and one section block saying the same."""
    text = _slack_text(shown)
    return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}


def body(stored: Mapping[str, Any], output_format: str, base: str) -> bytes:
    shown = document(stored, base)
    chosen = slack(shown) if output_format == "slack" else shown
    return json.dumps(chosen, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def signature(secret: str, data: bytes) -> str:
    """``sha256=`` and the hex HMAC-SHA256 of the body with the target's secret (the X-Hub-Signature-256 way)."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), data, hashlib.sha256).hexdigest()
