"""Storing what a run reports about its jobs: output decoded and masked, task events, ends, what contact with
their servers taught. The queue's write functions announce each change (app/jobqueue/announce.py)."""

from __future__ import annotations

import codecs
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol, TypeVar

from app.jobqueue.announce import JobEvents
from app.jobqueue.claim import Claimed
from app.jobqueue.contact import note_connectivity, trust_host_key
from app.jobqueue.output import NotOwner, append_output, append_task_event
from app.jobqueue.transitions import Ended, finish_job, lose_contact, mark_started
from app.logs import for_job
from app.masking import SecretMasker
from app.metrics.process import ProcessMetrics
from app.runner.spec import JobResult, Stream, TaskEvent

log = logging.getLogger(__name__)
T = TypeVar("T")

CONNECTION_FAILURES: Final = ("unreachable", "auth_failed", "host_key_mismatch")


class Store(Protocol):
    """A database call that must not be lost (retried while the database is down: WorkerPool.call_until_stored)."""

    def __call__(self, fn: Callable[..., T], *args: Any) -> T: ...


@dataclass(frozen=True)
class RecorderPort:
    """What a recorder needs of its pool."""

    store: Store
    events: JobEvents
    worker_id: str
    max_output_bytes: int
    metrics: ProcessMetrics
    # A job ended: its server has room for another (one waiting thread claims).
    wake: Callable[[], None]
    # How long a started job's target may stay unreachable before the job ends (NEWREMORA_RECONNECT_GRACE).
    reconnect_grace_s: int


class StreamText:
    """Bytes of one stream of one job, on their way to storage: decoded, then masked."""

    def __init__(self, secrets: Sequence[str]) -> None:
        # Incremental: a character split across two polls is not turned into two replacement characters.
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self.masker = SecretMasker(list(secrets))
        self.end_offset = 0

    def feed(self, data: bytes) -> str:
        return self.masker.feed(self.decoder.decode(data))

    def flush(self) -> str:
        return self.masker.feed(self.decoder.decode(b"", final=True)) + self.masker.flush()

    def resume_offset(self) -> int:
        """The offset from which the bytes not yet released (a partial character, the tail that could begin a
        secret) must be read again: a new claim then masks a secret split across the two claims whole."""
        buffered, _ = self.decoder.getstate()
        return self.end_offset - len(buffered) - len(self.masker.held().encode())


def mask_all(text: str, secrets: Sequence[str]) -> str:
    masker = SecretMasker(list(secrets))
    return masker.feed(text) + masker.flush()


class JobRecorder:
    """A JobListener (and PlaybookListener) for one run: its jobs are added as the run takes them (``watch``)."""

    def __init__(self, port: RecorderPort, beat: Callable[[], None], ended: Callable[[str], None]) -> None:
        self.port = port
        self.beat = beat
        self.ended = ended
        self.server_of_job: dict[str, str] = {}
        self.secrets_of_job: dict[str, Sequence[str]] = {}
        self.streams: dict[tuple[str, str], StreamText] = {}

    def watch(self, claimed: Claimed) -> None:
        self.server_of_job[claimed.job.id] = claimed.server.id

    def mask(self, job_id: str, secrets: Sequence[str]) -> None:
        self.secrets_of_job[job_id] = secrets

    def _stream(self, job_id: str, stream: str) -> StreamText:
        key = (job_id, stream)
        if key not in self.streams:
            self.streams[key] = StreamText(self.secrets_of_job.get(job_id, ()))
        return self.streams[key]

    def _store(self, job_id: str, stream: str, text: str, end_offset: int) -> None:
        if not text:
            return
        port = self.port
        try:
            port.store(
                append_output, port.events, job_id, port.worker_id, stream, text, end_offset, port.max_output_bytes
            )
        except NotOwner:
            log.warning("job %s is no longer ours; output dropped here", job_id, extra=for_job(job_id))

    def output(self, job_id: str, stream: Stream, data: bytes, offset: int) -> None:
        self.beat()
        self.port.metrics.output_received(stream, len(data))
        text = self._stream(job_id, stream)
        text.end_offset = offset + len(data)
        self._store(job_id, stream, text.feed(data), text.end_offset)

    def started(self, job_id: str) -> None:
        self.beat()
        port = self.port
        port.store(mark_started, port.events, job_id, port.worker_id)

    def _flush(self, job_id: str) -> None:
        """Store what the decoder and the masker hold back, up to the offsets a later claim resumes from."""
        for stream in ("stdout", "stderr"):
            text = self.streams.pop((job_id, stream), None)
            if text is not None:
                self._store(job_id, stream, text.flush(), text.end_offset)

    def lost_contact(self, job_id: str, error: str) -> None:
        self.beat()
        # Not flushed: what is held back is read again by the claim that re-attaches (a job that ends here drops
        # at most the start of a secret).
        resume = {
            stream: text.resume_offset()
            for stream in ("stdout", "stderr")
            if (text := self.streams.pop((job_id, stream), None)) is not None
        }
        port = self.port
        outcome = port.store(lose_contact, port.events, job_id, port.worker_id, port.reconnect_grace_s, error, resume)
        self._noted(job_id, connected=False, message=error)
        if isinstance(outcome, Ended):
            port.metrics.connection_lost("interrupted")
            port.metrics.job_finished(outcome.status, "interrupted", outcome.started_at)
            log.info("job %s finished: failed (lost contact: %s)", job_id, error, extra=for_job(job_id))
        elif outcome == "reconnecting":
            port.metrics.connection_lost("reconnecting")
            log.warning(
                "job %s: lost contact with its server (%s); it will be re-attached",
                job_id,
                error,
                extra=for_job(job_id),
            )
        self.ended(job_id)
        port.wake()

    def _noted(self, job_id: str, connected: bool, message: str) -> None:
        server_id = self.server_of_job.get(job_id)
        if server_id is not None:
            self.port.store(note_connectivity, server_id, connected, message)

    def finished(self, job_id: str, result: JobResult) -> None:
        self.beat()
        self._flush(job_id)
        port = self.port
        ended = port.store(
            finish_job,
            port.events,
            job_id,
            port.worker_id,
            result.exit_code,
            result.failure_reason,
            result.error,
            result.ran_for,
        )
        connected = result.failure_reason not in CONNECTION_FAILURES
        self._noted(job_id, connected, result.error or "job ran")
        status = ended.status if ended is not None else None
        if ended is not None:
            failure_reason = result.failure_reason if ended.status == "failed" else None
            port.metrics.job_finished(ended.status, failure_reason, ended.started_at)
        log.info("job %s finished: %s (exit code %s)", job_id, status, result.exit_code, extra=for_job(job_id))
        self.ended(job_id)
        port.wake()

    def task(self, job_id: str, event: TaskEvent) -> None:
        self.beat()
        secrets = self.secrets_of_job.get(job_id, ())
        masked = {
            name: mask_all(value, secrets) if isinstance(value, str) else value
            for name, value in event.as_dict().items()
        }
        port = self.port
        data = json.dumps(masked, ensure_ascii=False)
        try:
            port.store(append_task_event, port.events, job_id, port.worker_id, data, port.max_output_bytes)
        except NotOwner:
            log.warning("job %s is no longer ours; task event dropped here", job_id)

    def host_key_seen(self, server_id: str, host_key: str) -> None:
        self.port.store(trust_host_key, server_id, host_key)

    def progress(self) -> None:
        self.beat()
