"""``/api/v1/batches``: the jobs of one submission to several servers, summarised."""

from __future__ import annotations

from typing import cast

from quart import Blueprint
from quart_schema import validate_response

from app.api.context import runtime, visible_servers
from app.jobqueue.batches import get_batch
from app.jobstates import JobStatus
from app.schemas.batches import BatchJob, BatchSummary
from app.schemas.common import Envelope

blueprint = Blueprint("batches", __name__)


@blueprint.get("/<batch_id>")
@validate_response(Envelope[BatchSummary])
async def batch_summary(batch_id: str) -> Envelope[BatchSummary]:
    """Counts by status and each server's job, status and exit code."""
    batch = await runtime().database.run(get_batch, batch_id, await visible_servers())
    summary = BatchSummary(
        batch_id=batch.batch_id,
        status=batch.status,  # type: ignore[arg-type]
        total=len(batch.jobs),
        counts=batch.counts,
        created_at=batch.created_at,
        finished_at=batch.finished_at,
        jobs=[
            BatchJob(
                job_id=job.id,
                server_id=job.server.id,
                server_name=job.server.name,
                status=cast(JobStatus, job.status),
                exit_code=job.exit_code,
                failure_reason=job.failure_reason,
            )
            for job in batch.jobs
        ],
    )
    return Envelope(data=summary)
