"""A batch: the jobs of one submission to several servers, summarised."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from app.errors import NotFound
from app.jobstates import ACTIVE, ENDED, JOB_STATUSES
from app.models import Job, Server
from app.scopes import Visible, require_visible
from app.servers import parse_id

STATUSES: Final = JOB_STATUSES


@dataclass(frozen=True)
class Batch:
    batch_id: str
    status: str
    counts: dict[str, int]
    created_at: datetime
    finished_at: datetime | None
    jobs: list[Job]


def overall_status(counts: dict[str, int]) -> str:
    """running while any job is queued, starting or running; then failed if any failed, else canceled if any was
    canceled, else completed."""
    if any(counts[status] for status in ACTIVE):
        return "running"
    if counts["failed"]:
        return "failed"
    if counts["canceled"]:
        return "canceled"
    return "completed"


def get_batch(batch_id: str, visible: Visible = None) -> Batch:
    """The batch's jobs summarised; not found when any of its servers is out of scope (``visible``)."""
    batch_id = parse_id(batch_id, "Batch")
    jobs = list(
        Job.select(Job, Server).join(Server).where(Job.batch_id == batch_id).order_by(Server.name, Job.created_at)
    )
    if not jobs:
        raise NotFound("Batch not found")
    require_visible((job.server_id for job in jobs), visible, "Batch")
    counts: dict[str, int] = dict.fromkeys(STATUSES, 0)
    for job in jobs:
        counts[job.status] += 1
    finished = all(job.status in ENDED for job in jobs)
    return Batch(
        batch_id=batch_id,
        status=overall_status(counts),
        counts=counts,
        created_at=min(job.created_at for job in jobs),
        finished_at=max(job.finished_at for job in jobs) if finished else None,
        jobs=jobs,
    )
