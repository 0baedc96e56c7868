"""``/api/v1/system``: figures computed from the database."""

from __future__ import annotations

from quart import Blueprint
from quart_schema import validate_response

from app.api.context import runtime, visible_servers
from app.clock import utcnow
from app.jobqueue import stats
from app.schemas.common import Envelope
from app.schemas.system import SystemEnhanced, SystemInfo, WorkerInfo, WorkerStatus

blueprint = Blueprint("system", __name__)


@blueprint.get("/info")
@validate_response(Envelope[SystemInfo])
async def info() -> Envelope[SystemInfo]:
    """Counts of servers and jobs (a caller with a scope: of those in scope)."""
    visible = await visible_servers()

    def compute() -> SystemInfo:
        counts = stats.job_counts(visible)
        return SystemInfo(
            total_servers=stats.server_count(visible),
            total_jobs=sum(counts.values()),
            running_jobs=counts["running"],
            starting_jobs=counts["starting"],
            completed_jobs=counts["completed"],
            failed_jobs=counts["failed"],
            queued_jobs=counts["queued"],
            canceled_jobs=counts["canceled"],
            success_rate=stats.success_rate(counts),
            timestamp=utcnow(),
        )

    return Envelope(data=await runtime().database.run(compute))


@blueprint.get("/enhanced")
@validate_response(Envelope[SystemEnhanced])
async def enhanced() -> Envelope[SystemEnhanced]:
    """Connectivity, throughput and workers (a caller with a scope: figures of the servers in scope and their
    jobs)."""
    visible = await visible_servers()

    def compute() -> SystemEnhanced:
        connectivity = stats.connectivity_counts(visible)
        live = stats.live_workers(visible)
        workers = [
            WorkerInfo(
                id=item.worker.id,
                hostname=item.worker.hostname,
                pid=item.worker.pid,
                threads=item.worker.threads,
                batch_size=item.worker.batch_size,
                running_jobs=item.running_jobs,
                started_at=item.worker.started_at,
                heartbeat_at=item.worker.heartbeat_at,
            )
            for item in live
        ]
        return SystemEnhanced(
            connected_servers=connectivity.get("connected", 0),
            disconnected_servers=connectivity.get("disconnected", 0),
            unchecked_servers=connectivity.get(None, 0),
            average_job_duration=stats.average_job_duration(visible),
            jobs_per_hour=stats.jobs_per_hour(visible),
            worker_status=WorkerStatus(
                active_workers=sum(w.threads for w in workers),
                total_capacity=sum(w.threads * w.batch_size for w in workers),
                running_jobs=sum(w.running_jobs for w in workers),
                workers=workers,
            ),
        )

    return Envelope(data=await runtime().database.run(compute))
