"""``/api/v1/batches``: the jobs of one submission for several servers."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from app.jobstates import JobStatus
from app.schemas.common import Timestamp


class BatchJob(BaseModel):
    job_id: str
    server_id: str
    server_name: str
    status: JobStatus
    exit_code: int | None
    failure_reason: str | None


class BatchSummary(BaseModel):
    batch_id: str
    # running while any job is queued, starting or running; then completed if all completed, else failed/canceled.
    status: Literal["running", "completed", "failed", "canceled"]
    total: int
    counts: dict[str, int]
    created_at: Timestamp
    finished_at: Timestamp | None
    jobs: list[BatchJob]
