"""``/api/v1/system``: figures of the whole service and its workers."""

from __future__ import annotations

from pydantic import BaseModel, Field

from app.schemas.common import Timestamp


class SystemInfo(BaseModel):
    total_servers: int
    total_jobs: int
    running_jobs: int
    starting_jobs: int = Field(description="Jobs a worker took and is starting on their servers.")
    completed_jobs: int
    failed_jobs: int
    queued_jobs: int
    canceled_jobs: int
    success_rate: float
    timestamp: Timestamp


class WorkerInfo(BaseModel):
    id: str
    hostname: str
    pid: int
    threads: int
    batch_size: int
    running_jobs: int
    started_at: Timestamp
    heartbeat_at: Timestamp


class WorkerStatus(BaseModel):
    active_workers: int
    total_capacity: int
    running_jobs: int
    workers: list[WorkerInfo]


class SystemEnhanced(BaseModel):
    connected_servers: int
    disconnected_servers: int
    unchecked_servers: int
    average_job_duration: float
    jobs_per_hour: int
    worker_status: WorkerStatus
