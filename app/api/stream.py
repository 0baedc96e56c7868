"""``GET /api/v1/jobs/:id/stream``: a job's status and output as Server-Sent Events, resumable."""

from __future__ import annotations

from quart import Blueprint, Response, request

from app.api.context import runtime, visible_servers
from app.api.decoding import event_id
from app.jobqueue import reads
from app.sse.stream import job_events

blueprint = Blueprint("stream", __name__)


def resume_point() -> int:
    """The last chunk the client has: Last-Event-ID (browsers send it on reconnect) or ?last_event_id=."""
    return event_id(request.headers.get("Last-Event-ID") or request.args.get("last_event_id") or "0")


@blueprint.get("/<job_id>/stream")
async def stream(job_id: str) -> Response:
    rt = runtime()
    last = resume_point()
    # An unknown job, or one out of the caller's scope, is a 404 before any event.
    job = await rt.database.run(reads.get_job, job_id, await visible_servers())
    settings = rt.settings
    events = job_events(rt.database, rt.broker, job.id, last, settings.sse_keepalive, settings.sse_fallback_poll)
    response = Response(
        events,
        status=200,
        content_type="text/event-stream; charset=utf-8",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no", "Connection": "keep-alive"},
    )
    response.timeout = None  # a stream lasts as long as its job, not Quart's 60 s
    return response
