"""The event sequence of one job stream: status, output and task (with ids), complete; resumable after any id."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any, Final

from app.clock import rfc3339
from app.db import Database
from app.jobqueue import reads
from app.models import TASK_STREAM
from app.sse import wire
from app.sse.broker import Broker, ChunkLike

RETRY_MS: Final = 2000
BATCH: Final = 500


def _time(value: Any) -> str | None:
    return rfc3339(value) if value is not None else None


def status_data(state: reads.JobState) -> dict[str, Any]:
    return {
        "status": state.status,
        "started_at": _time(state.started_at),
        "finished_at": _time(state.finished_at),
        "cancel_requested_at": _time(state.cancel_requested_at),
        "contact_lost_at": _time(state.contact_lost_at),
    }


def complete_data(state: reads.JobState) -> dict[str, Any]:
    return {
        "status": state.status,
        "exit_code": state.exit_code,
        "failure_reason": state.failure_reason,
        "error": state.error,
        "finished_at": _time(state.finished_at),
    }


async def job_events(
    database: Database, broker: Broker, job_id: str, last: int, keepalive_s: float, fallback_s: float
) -> AsyncIterator[str]:
    """Events after chunk ``last`` until the job's end. Stored output first, then live chunks as they come."""
    subscriber = broker.subscribe(job_id)
    try:
        yield wire.retry(RETRY_MS)
        sent_status: dict[str, Any] | None = None
        next_keepalive = time.monotonic() + keepalive_s
        next_fallback = 0.0
        while True:
            state: reads.JobState | None = None
            chunks: Sequence[ChunkLike]
            if sent_status is None or subscriber.status_changed or time.monotonic() >= next_fallback:
                subscriber.status_changed = False
                state, chunks = await database.run(reads.state_and_chunks_after, job_id, last, BATCH)
                next_fallback = time.monotonic() + fallback_s
            else:
                cached = broker.chunks_after(job_id, last)
                chunks = cached if cached is not None else await database.run(reads.chunks_after, job_id, last, BATCH)
            status = status_data(state) if state is not None else None
            # A live status goes before the output that follows it; the final one after the last output.
            if state is not None and not state.finished and status != sent_status:
                yield wire.event("status", status or {})
                sent_status = status
            for chunk in chunks:
                if chunk.stream == TASK_STREAM:
                    yield wire.event("task", json.loads(chunk.data), chunk.seq)
                else:
                    yield wire.event("output", {"type": chunk.stream, "content": chunk.data}, chunk.seq)
                last = chunk.seq
            if chunks:
                next_keepalive = time.monotonic() + keepalive_s
            if state is not None and state.finished:
                if len(chunks) == BATCH:
                    continue  # more stored output to replay first
                yield wire.event("status", status or {})
                yield wire.event("complete", complete_data(state))
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    subscriber.event.wait(), max(0.0, min(next_keepalive, next_fallback) - time.monotonic())
                )
            subscriber.event.clear()
            if time.monotonic() >= next_keepalive:
                yield wire.comment("keep-alive")
                next_keepalive = time.monotonic() + keepalive_s
    finally:
        broker.unsubscribe(subscriber)
