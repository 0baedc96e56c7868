"""On PostgreSQL a process hears what the others announce, and not its own announcements back (it heard of those
first-hand: handling them again woke its streams and workers twice for every change)."""

from __future__ import annotations

import itertools
import threading

import pytest
from quart import Quart

from app.api.context import RUNTIME_KEY
from app.jobqueue.announce import NotifyOthers, StoredChunk
from app.runtime import Runtime
from app.sse.listen import PostgresListener
from tests.harness.wait import wait_until

pytestmark = pytest.mark.parametrize("db_kind", ["postgresql"])


async def test_a_listener_hears_other_processes_and_drops_its_own(app: Quart) -> None:
    runtime: Runtime = app.extensions[RUNTIME_KEY]
    heard: list[tuple[str, int | None]] = []
    lock = threading.Lock()

    def on_output(job_id: str, seq: int) -> None:
        with lock:
            heard.append((job_id, seq))

    def on_status(job_id: str) -> None:
        with lock:
            heard.append((job_id, None))

    ours, theirs = NotifyOthers("process-a"), NotifyOthers("process-b")
    listener = PostgresListener(runtime.database.url, ours.origin, on_output, on_status)
    listener.start()
    try:
        # LISTEN begins on the listener's own thread: probe from the other process until one is heard.
        probes = (f"probe-{n}" for n in itertools.count())

        def probe_heard() -> bool:
            runtime.database.call(theirs.changed, [next(probes)])
            with lock:
                return bool(heard)

        wait_until(probe_heard, 30, "the listener to hear a first notification", interval=0.2)
        with lock:
            heard.clear()

        runtime.database.call(ours.changed, ["job-ours"])
        runtime.database.call(ours.output, "job-ours", [StoredChunk(3, "stdout", "x")])
        runtime.database.call(
            theirs.output, "job-theirs", [StoredChunk(1, "stdout", "a"), StoredChunk(2, "stderr", "b")]
        )
        runtime.database.call(theirs.output, "job-theirs", [])  # nothing stored: nothing said
        runtime.database.call(theirs.cancel_requested, "job-cancel")  # a status change to every listener
        runtime.database.call(theirs.changed, ["job-theirs"])

        # Notifications arrive in the order they were sent: once the last is heard, ours would have been too.
        def last_heard() -> list[tuple[str, int | None]] | None:
            with lock:
                return list(heard) if ("job-theirs", None) in heard else None

        got = wait_until(last_heard, 30, "the other process's status notification")
        assert got is not None
        assert [entry for entry in got if not entry[0].startswith("probe-")] == [
            ("job-theirs", 2),  # the newest chunk of the two
            ("job-cancel", None),
            ("job-theirs", None),
        ]
    finally:
        listener.stop()
