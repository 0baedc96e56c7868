"""Telling other processes that a job changed: PostgreSQL NOTIFY, sent with the transaction that made the
change (delivered at commit). SQLite serves one process, where workers call the broker directly."""

from __future__ import annotations

from app.db import is_postgresql
from app.models import Job

OUTPUT_CHANNEL = "newremora_output"
STATUS_CHANNEL = "newremora_status"


def _notify(channel: str, payload: str) -> None:
    database = Job._meta.database
    if is_postgresql(database):
        database.execute_sql("SELECT pg_notify(%s, %s)", (channel, payload))


def announce_output(job_id: str, last_seq: int) -> None:
    _notify(OUTPUT_CHANNEL, f"{job_id}:{last_seq}")


def announce_status(job_id: str) -> None:
    _notify(STATUS_CHANNEL, job_id)
