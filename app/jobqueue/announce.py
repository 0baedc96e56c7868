"""Telling whoever watches that a job changed: the one port the queue's write functions announce through, once
their transaction has committed, and its transport to other processes (PostgreSQL NOTIFY).

Two transports carry an announcement: the in-process one (this process's streams and workers, app/runtime.py)
and NOTIFY (the other processes, which LISTEN in app/sse/listen.py). A payload names the process that sent it,
whose own listener drops it: that process heard of the change first-hand."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, NamedTuple, Protocol

import peewee as pw

from app.db import is_postgresql
from app.models import Job

log = logging.getLogger(__name__)

OUTPUT_CHANNEL: Final = "newremora_output"
STATUS_CHANNEL: Final = "newremora_status"


@dataclass(frozen=True)
class StoredChunk:
    """A piece of a job's output as stored (its place in the job's sequence) and announced."""

    seq: int
    stream: str
    data: str


class JobEvents(Protocol):
    """Told after commit, by the queue's write functions only (never inside their transaction: a reader woken
    by it must find the change)."""

    def output(self, job_id: str, chunks: Sequence[StoredChunk]) -> None:
        """These chunks of the job's output were stored (in order)."""

    def changed(self, job_ids: Sequence[str]) -> None:
        """These jobs changed status (claimed, finished, queued again...)."""

    def cancel_requested(self, job_id: str) -> None:
        """Somebody asked to cancel this running job: the worker that runs it has to act."""


class NoEvents:
    """Nobody listens (commands of the CLI, and tests of the queue alone)."""

    def output(self, job_id: str, chunks: Sequence[StoredChunk]) -> None:
        pass

    def changed(self, job_ids: Sequence[str]) -> None:
        pass

    def cancel_requested(self, job_id: str) -> None:
        pass


NO_EVENTS: Final = NoEvents()


class FanOut:
    """Several transports, told in order (the in-process one first: the streams of this process are the
    latency that matters most)."""

    def __init__(self, *transports: JobEvents) -> None:
        self._transports = transports

    def output(self, job_id: str, chunks: Sequence[StoredChunk]) -> None:
        for transport in self._transports:
            transport.output(job_id, chunks)

    def changed(self, job_ids: Sequence[str]) -> None:
        for transport in self._transports:
            transport.changed(job_ids)

    def cancel_requested(self, job_id: str) -> None:
        for transport in self._transports:
            transport.cancel_requested(job_id)


class Heard(NamedTuple):
    """One notification as a listener reads it: a job's status changed (seq None), or its output up to seq."""

    origin: str
    job_id: str
    seq: int | None


def heard(channel: str, payload: str) -> Heard | None:
    """A notification's meaning, or None if it is not one of ours."""
    origin, _, rest = payload.partition(" ")
    if channel == STATUS_CHANNEL and rest:
        return Heard(origin, rest, None)
    job_id, _, seq = rest.partition(":")
    if channel == OUTPUT_CHANNEL and job_id and seq.isdigit():
        return Heard(origin, job_id, int(seq))
    return None


class NotifyOthers:
    """The NOTIFY transport. Sent after commit in autocommit mode (one round trip, as one inside the transaction
    was); a failure is logged, never raised: the change is stored, and listeners poll as a fallback."""

    def __init__(self, origin: str) -> None:
        # Any text without a space: it only has to differ between the processes sharing a database.
        self.origin = origin

    def output(self, job_id: str, chunks: Sequence[StoredChunk]) -> None:
        if chunks:
            self._notify(OUTPUT_CHANNEL, [f"{self.origin} {job_id}:{chunks[-1].seq}"])

    def changed(self, job_ids: Sequence[str]) -> None:
        if job_ids:
            self._notify(STATUS_CHANNEL, [f"{self.origin} {job_id}" for job_id in job_ids])

    def cancel_requested(self, job_id: str) -> None:
        self.changed([job_id])  # every status notification may be a cancel to the listeners

    @staticmethod
    def _notify(channel: str, payloads: list[str]) -> None:
        database = Job._meta.database
        if not is_postgresql(database):
            return
        try:
            # One statement for a whole claim's jobs.
            database.execute_sql(
                "SELECT pg_notify(%s, payload) FROM unnest(%s::text[]) AS payload", (channel, payloads)
            )
        except pw.PeeweeException as exc:
            log.warning("could not notify other processes of %d job change(s): %s", len(payloads), exc)
