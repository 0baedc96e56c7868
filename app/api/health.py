"""``GET /health``: the reference's object, without envelope; 503 naming the failing part."""

from __future__ import annotations

import asyncio
from typing import Final, Literal

from quart import Blueprint
from quart_schema import validate_response

from app.api.context import runtime
from app.clock import utcnow
from app.errors import DatabaseUnavailable
from app.schemas.health import Health

blueprint = Blueprint("health", __name__)

PING_TIMEOUT_S: Final = 3.0


@blueprint.get("/health")
@validate_response(Health, 200)
@validate_response(Health, 503)
async def health() -> tuple[Health, int]:
    try:
        await asyncio.wait_for(runtime().database.run(runtime().database.ping), PING_TIMEOUT_S)
        database_ok = True
    except (DatabaseUnavailable, TimeoutError):
        database_ok = False
    # The queue lives in the database: it answers exactly when the database does.
    state: Literal["connected", "disconnected"] = "connected" if database_ok else "disconnected"
    report = Health(
        status="healthy" if database_ok else "unhealthy",
        timestamp=utcnow(),
        database=state,
        queue=state,
    )
    return report, 200 if database_ok else 503
