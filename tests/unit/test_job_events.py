"""The port through which the queue announces that a job changed (app/jobqueue/announce.py): what a listener
does not take for a notification, and the in-process transport (app/runtime.py). The NOTIFY transport is tested
on a real PostgreSQL: tests/integration/test_job_events_postgres.py."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from app.jobqueue.announce import OUTPUT_CHANNEL, STATUS_CHANNEL, FanOut, StoredChunk, heard
from app.runtime import InProcess
from app.sse.broker import ThreadSafeNotifier

CHUNKS = [StoredChunk(7, "stdout", "a"), StoredChunk(8, "stderr", "b")]


def test_what_is_not_a_notification_of_ours_is_ignored() -> None:
    assert heard(STATUS_CHANNEL, "job-a") is None  # no process named
    assert heard(OUTPUT_CHANNEL, "node1 job-a") is None  # no seq
    assert heard(OUTPUT_CHANNEL, "node1 job-a:x") is None
    assert heard("elsewhere", "node1 job-a:1") is None


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def output(self, job_id: str, chunks: Sequence[StoredChunk]) -> None:
        self.calls.append(("output", job_id, list(chunks)))

    def changed(self, job_id: str | Sequence[str]) -> None:
        self.calls.append(("changed", job_id))

    def cancel_requested(self, job_id: str) -> None:
        self.calls.append(("cancel", job_id))


def test_in_process_streams_get_the_chunks_themselves_and_a_cancel_wakes_the_workers() -> None:
    notifier, pokes = Recorder(), []
    local = InProcess(cast(ThreadSafeNotifier, notifier), lambda: pokes.append(1))
    local.output("job-a", CHUNKS)
    local.changed(["job-a", "job-b"])
    assert (notifier.calls, pokes) == ([("output", "job-a", CHUNKS), ("changed", "job-a"), ("changed", "job-b")], [])
    local.cancel_requested("job-c")
    assert (notifier.calls[-1], pokes) == (("changed", "job-c"), [1])
    InProcess(None, lambda: pokes.append(2)).cancel_requested("job-d")  # a worker process: no streams
    assert pokes == [1, 2]


def test_every_transport_is_told_in_order() -> None:
    first, second = Recorder(), Recorder()
    both = FanOut(first, second)
    both.output("job-a", CHUNKS)
    both.changed(["job-a"])
    both.cancel_requested("job-a")
    assert first.calls == second.calls == [("output", "job-a", CHUNKS), ("changed", ["job-a"]), ("cancel", "job-a")]
