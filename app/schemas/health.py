"""``/health``."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from app.schemas.common import Timestamp


class WorkerThreads(BaseModel):
    """This process's worker threads (null in a process without workers: `serve --no-workers`)."""

    threads: int
    threads_replaced: int = Field(description="threads the supervisor replaced since start (died or stalled)")
    last_replaced_at: Timestamp | None
    last_replaced_reason: str | None = Field(description="e.g. 'worker-0 died (RuntimeError)'")


class Health(BaseModel):
    status: Literal["healthy", "degraded", "unhealthy"] = Field(
        description="degraded (still 200): a worker thread was replaced in the last 10 minutes"
    )
    timestamp: Timestamp
    database: Literal["connected", "disconnected", "unwritable"] = Field(
        description="unwritable (503): the SQLite database's disk is full; reads still answer, writes are 503 "
        "until space is freed, and workers keep what they must store until then"
    )
    queue: Literal["connected", "disconnected", "unwritable"] = Field(description="the queue lives in the database")
    database_error: str | None = Field(
        default=None,
        description="why the database is not usable, e.g. 'no space left on device: 0 KiB free on the filesystem "
        "of /var/lib/newremora'",
    )
    workers: WorkerThreads | None
