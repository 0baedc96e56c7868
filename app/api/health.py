"""``GET /health``: the reference's object, without envelope; 503 naming the failing part."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Final, Literal

from quart import Blueprint
from quart_schema import validate_response

from app.api.context import runtime
from app.clock import utcnow
from app.errors import DatabaseUnavailable
from app.schemas.health import Health, WorkerThreads

blueprint = Blueprint("health", __name__)

PING_TIMEOUT_S: Final = 3.0
# A replaced worker thread makes the process `degraded` this long: long enough for a scrape or a person to see.
DEGRADED_FOR: Final = timedelta(minutes=10)


@blueprint.get("/health")
@validate_response(Health, 200)
@validate_response(Health, 503)
async def health() -> tuple[Health, int]:
    try:
        await asyncio.wait_for(runtime().database.run(runtime().database.ping), PING_TIMEOUT_S)
        database_ok = True
    except (DatabaseUnavailable, TimeoutError):
        database_ok = False
    # Free space is read at most once a second, without a write: /health stays as cheap as a benchmark needs.
    unwritable = runtime().database.writability.check() if database_ok else None
    # The queue lives in the database: it answers exactly when the database does.
    state: Literal["connected", "disconnected", "unwritable"] = (
        "disconnected" if not database_ok else "unwritable" if unwritable else "connected"
    )
    healthy = state == "connected"
    workers = _workers()
    replaced_at = workers.last_replaced_at if workers is not None else None
    recent = replaced_at is not None and utcnow() - replaced_at < DEGRADED_FOR
    report = Health(
        status="unhealthy" if not healthy else "degraded" if recent else "healthy",
        timestamp=utcnow(),
        database=state,
        queue=state,
        database_error=unwritable if unwritable else None if database_ok else "the database does not answer",
        workers=workers,
    )
    return report, 200 if healthy else 503


def _workers() -> WorkerThreads | None:
    pool = runtime().workers
    if pool is None:
        return None
    report = pool.threads_report()
    last = report.last
    return WorkerThreads(
        threads=report.threads,
        threads_replaced=report.replaced,
        last_replaced_at=last.at if last else None,
        last_replaced_reason=f"{last.thread} {last.reason}" if last else None,
    )
