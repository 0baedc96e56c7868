"""Storing job output as ordered chunks, within the per-job cap (head and tail kept, the middle dropped)."""

from __future__ import annotations

from typing import Final

from app.clock import utcnow
from app.db import rows
from app.jobqueue.announce import JobEvents, StoredChunk
from app.jobstates import CLAIMED
from app.models import TASK_STREAM, Job, JobChunk

# PostgreSQL ``text`` cannot hold U+0000, which commands print (``find -print0``, binary output): a chunk is stored
# with NUL as ESCAPE + "0" and ESCAPE itself as ESCAPE + "e", the same on both databases (docs/streaming.md,
# "Bytes, NUL and invalid UTF-8"). No column type changes and no migration. ESCAPE lies beyond the Basic
# Multilingual Plane, so ``ESCAPE in text`` is answered without a scan unless the text has such characters too
# (emoji): most chunks cost one memchr for the NUL and are stored as they are.
ESCAPE: Final = "\U0010ffff"
_STORED_NUL: Final = ESCAPE + "0"
_STORED_ESCAPE: Final = ESCAPE + "e"


def to_stored(text: str) -> str:
    """A chunk's text as the ``data`` column holds it (reversed by ``from_stored``)."""
    if "\x00" not in text and ESCAPE not in text:
        return text
    return text.replace(ESCAPE, _STORED_ESCAPE).replace("\x00", _STORED_NUL)


def from_stored(data: str) -> str:
    """The text of a stored chunk. Every ESCAPE stored is followed by "0" or "e", so the pairs cannot overlap and
    replacing NUL's pair first is exact. (Rows stored before the escape hold NUL as itself: SQLite kept it.)"""
    if ESCAPE not in data:
        return data
    return data.replace(_STORED_NUL, "\x00").replace(_STORED_ESCAPE, ESCAPE)


def utf8_size(text: str) -> int:
    return len(text.encode("utf-8", errors="surrogatepass"))


def split_at_bytes(text: str, limit: int) -> tuple[str, str]:
    """The longest prefix of ``text`` that fits in ``limit`` UTF-8 bytes, and the rest."""
    head = text.encode("utf-8", errors="surrogatepass")[:limit].decode("utf-8", errors="ignore")
    return head, text[len(head) :]


def keep_last_bytes(text: str, limit: int) -> str:
    data = text.encode("utf-8", errors="surrogatepass")
    return data[-limit:].decode("utf-8", errors="ignore") if len(data) > limit else text


class NotOwner(Exception):
    """The job is no longer this worker's (it was re-attached elsewhere)."""


def append_output(
    events: JobEvents, job_id: str, worker_id: str, stream: str, text: str, end_offset: int, cap: int
) -> list[StoredChunk]:
    """Store one chunk (two when it closes the kept head), then announce it; returns what was stored.
    ``end_offset``: bytes of this stream received so far, from which a re-attached poll resumes."""
    with Job._meta.database.atomic():
        job = Job.select().where(Job.id == job_id).get()
        if job.worker_id != worker_id or job.status not in CLAIMED:
            raise NotOwner(job_id)
        stored, head_last_seq, seq = job.stored_bytes, job.head_last_seq, job.last_seq
        omitted = {"stdout": job.stdout_omitted, "stderr": job.stderr_omitted}
        inserted: list[StoredChunk] = []
        now = utcnow()

        def insert(piece: str) -> int:
            nonlocal seq, stored
            seq += 1
            size = utf8_size(piece)
            # The size is the output's own (the cap counts what was printed, not its stored form).
            JobChunk.insert(job=job_id, seq=seq, stream=stream, data=to_stored(piece), size=size, at=now).execute()
            stored += size
            inserted.append(StoredChunk(seq, stream, piece))
            return seq

        head_cap = cap // 2
        if head_last_seq is None:
            room = head_cap - stored
            if utf8_size(text) <= room:
                insert(text)
                text = ""
            else:
                head, text = split_at_bytes(text, room)
                head_last_seq = insert(head) if head else seq
        if text and head_last_seq is not None:
            # The tail: no piece may be larger than the tail's share, and the oldest tail goes first.
            kept = keep_last_bytes(text, cap - head_cap)
            omitted[stream] += utf8_size(text) - utf8_size(kept)
            insert(kept)
            if stored > cap:
                stored = _trim_tail(job_id, head_last_seq, stored, omitted, cap)
        Job.update(
            {
                getattr(Job, f"{stream}_offset"): end_offset,
                Job.last_seq: seq,
                Job.stored_bytes: stored,
                Job.stdout_omitted: omitted["stdout"],
                Job.stderr_omitted: omitted["stderr"],
                Job.head_last_seq: head_last_seq,
            }
        ).where(Job.id == job_id).execute()
    if inserted:
        events.output(job_id, inserted)
    return inserted


def _trim_tail(job_id: str, head_last_seq: int, stored: int, omitted: dict[str, int], cap: int) -> int:
    """Drop the oldest tail chunks until the job fits in the cap again; counts what each stream lost."""
    oldest = (
        JobChunk.select(JobChunk.id, JobChunk.stream, JobChunk.size)
        .where((JobChunk.job == job_id) & (JobChunk.seq > head_last_seq))
        .order_by(JobChunk.seq)
    )
    doomed = []
    for chunk_id, stream, size in rows(oldest):
        if stored <= cap:
            break
        doomed.append(chunk_id)
        stored -= size
        if stream in omitted:  # a task event dropped with the tail is not output (/stdout's marker counts output)
            omitted[stream] += size
    if doomed:
        JobChunk.delete().where(JobChunk.id.in_(doomed)).execute()
    return int(stored)


def append_task_event(events: JobEvents, job_id: str, worker_id: str, data: str, cap: int) -> list[StoredChunk]:
    """Store one task event (JSON text) after the job's output so far, numbered with it: a stream resumed
    after any id gets the rest of both. It counts toward the cap and is never split."""
    with Job._meta.database.atomic():
        job = Job.select().where(Job.id == job_id).get()
        if job.worker_id != worker_id or job.status not in CLAIMED:
            raise NotOwner(job_id)
        seq = job.last_seq + 1
        size = utf8_size(data)
        # JSON escapes NUL itself, but not ESCAPE (json.dumps(ensure_ascii=False)): stored like output.
        JobChunk.insert(job=job_id, seq=seq, stream=TASK_STREAM, data=to_stored(data), size=size, at=utcnow()).execute()
        stored = job.stored_bytes + size
        head_last_seq = job.head_last_seq
        if head_last_seq is None and stored > cap // 2:
            head_last_seq = seq  # the kept head ends with this event
        omitted = {"stdout": job.stdout_omitted, "stderr": job.stderr_omitted}
        if stored > cap and head_last_seq is not None:
            stored = _trim_tail(job_id, head_last_seq, stored, omitted, cap)
        Job.update(
            last_seq=seq,
            stored_bytes=stored,
            head_last_seq=head_last_seq,
            stdout_omitted=omitted["stdout"],
            stderr_omitted=omitted["stderr"],
        ).where(Job.id == job_id).execute()
    chunks = [StoredChunk(seq, TASK_STREAM, data)]
    events.output(job_id, chunks)
    return chunks
