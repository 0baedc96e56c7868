"""LISTEN for job changes announced by other processes through PostgreSQL (app/jobqueue/announce.py): they
wake streams, and carry cancels to the worker that runs the job. This process's own are dropped: its streams and
workers heard of them first-hand."""

from __future__ import annotations

import logging
import os
import select
import threading
from collections.abc import Callable

import psycopg2
import psycopg2.extensions

from app.jobqueue.announce import OUTPUT_CHANNEL, STATUS_CHANNEL, heard

log = logging.getLogger(__name__)


class PostgresListener:
    """One thread, one dedicated connection; reconnects by itself. Streams poll the database as a fallback,
    so a notification lost while reconnecting only delays an event."""

    def __init__(
        self, url: str, origin: str, on_output: Callable[[str, int], None], on_status: Callable[[str], None]
    ) -> None:
        self._url = url
        self._origin = origin
        self._on_output = on_output
        self._on_status = on_status
        self._stop = threading.Event()
        # Written to on stop, so that the select() returns at once instead of at its next timeout.
        self._wake_read, self._wake_write = os.pipe()
        self._thread = threading.Thread(target=self._run, name="pg-listen", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        os.write(self._wake_write, b"x")
        self._thread.join(timeout=5)
        os.close(self._wake_read)
        os.close(self._wake_write)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._listen()
            except psycopg2.Error as exc:
                log.warning("LISTEN connection lost (%s); reconnecting", str(exc).strip().splitlines()[0])
                self._stop.wait(1.0)

    def _listen(self) -> None:
        connection = psycopg2.connect(self._url, connect_timeout=3)
        try:
            connection.set_isolation_level(psycopg2.extensions.ISOLATION_LEVEL_AUTOCOMMIT)
            with connection.cursor() as cursor:
                cursor.execute(f"LISTEN {OUTPUT_CHANNEL}; LISTEN {STATUS_CHANNEL};")
            while not self._stop.is_set():
                readable, _, _ = select.select([connection, self._wake_read], [], [], 5.0)
                if connection not in readable:
                    continue
                connection.poll()
                for notification in connection.notifies:
                    self._dispatch(notification.channel, notification.payload)
                connection.notifies.clear()
        finally:
            connection.close()

    def _dispatch(self, channel: str, payload: str) -> None:
        news = heard(channel, payload)
        if news is None or news.origin == self._origin:
            return
        if news.seq is None:
            self._on_status(news.job_id)
        else:
            self._on_output(news.job_id, news.seq)
