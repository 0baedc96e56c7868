"""Job history written straight into the database, for retention tests: ended jobs of a given age with output,
without running them (the queue's own paths are covered elsewhere)."""

from __future__ import annotations

from datetime import timedelta

from app.clock import utcnow
from app.models import Job, JobChunk, Server


def history_server(name: str = "history") -> str:
    """In a database thread: a server for the jobs (never contacted)."""
    server = Server.create(name=name, hostname="127.0.0.1", port=22, user="deploy", auth_type="password")
    return str(server.id)


def past_job(
    server_id: str,
    days_ago: float,
    status: str = "completed",
    chunks: int = 2,
    batch_id: str | None = None,
    exit_code: int | None = 0,
) -> str:
    """In a database thread: a job that ended (or, with an active status, is still active) ``days_ago`` days ago,
    with ``chunks`` chunks of output."""
    at = utcnow() - timedelta(days=days_ago)
    ended = status in ("completed", "failed", "canceled")
    job = Job.create(
        server=server_id,
        kind="command",
        command="echo hello",
        timeout=60,
        status=status,
        exit_code=exit_code if ended else None,
        batch_id=batch_id,
        created_at=at - timedelta(seconds=5),
        started_at=at - timedelta(seconds=4),
        finished_at=at if ended else None,
        last_seq=chunks,
        stored_bytes=6 * chunks,
        submitted_by="local:local",
    )
    for seq in range(1, chunks + 1):
        JobChunk.create(job=job.id, seq=seq, stream="stdout", data="hello\n", size=6, at=at)
    return str(job.id)
