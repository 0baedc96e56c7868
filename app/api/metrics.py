"""``GET /metrics``: Prometheus text format. Outside /api/v1 (no API key, no rate limit): a scraper holds at most
the metrics token, never a key that could run commands on every server (docs/operations.md)."""

from __future__ import annotations

import asyncio

from quart import Blueprint, Response, request

from app.api.context import runtime
from app.errors import MetricsUnauthorized
from app.metrics.access import metrics_allowed

blueprint = Blueprint("metrics", __name__)


@blueprint.get("/metrics")
async def metrics() -> Response:
    rt = runtime()
    if not metrics_allowed(rt.settings.metrics_token, request.headers.get("Authorization")):
        raise MetricsUnauthorized()
    # The database's figures are read while rendering: in a thread, like all database work.
    body, content_type = await asyncio.to_thread(rt.metrics.render, request.headers.get("Accept"))
    response = Response(body, status=200, content_type=content_type)
    response.headers["Cache-Control"] = "no-store"
    return response
