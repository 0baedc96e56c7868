"""The database: a Peewee proxy bound from a URL, and a thread pool that runs database work.

Peewee keeps connection state per thread, and Quart handlers all run on the event-loop thread, so
database work runs in a small pool of threads, each call inside its own pooled connection.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final, TypeVar
from urllib.parse import unquote, urlsplit

import peewee as pw
from playhouse.pool import PooledPostgresqlDatabase, PooledSqliteDatabase

from app.clock import rfc3339
from app.errors import ConfigurationError, DatabaseUnavailable, DatabaseUnwritable
from app.fields import UtcDateTimeField
from app.files import sqlite_files

log = logging.getLogger(__name__)
T = TypeVar("T")

database_proxy = pw.DatabaseProxy()

# WAL lets readers run beside the one writer; synchronous=FULL makes every acknowledged write durable
# across a power cut, which the queue relies on (a 201 means the job exists).
SQLITE_PRAGMAS: Final = {
    "journal_mode": "wal",
    "synchronous": "full",
    "foreign_keys": 1,
    "busy_timeout": 10_000,
}

# Errors that mean "the database cannot be reached or used right now", as opposed to bad data.
UNAVAILABLE_ERRORS: Final = (pw.OperationalError, pw.InterfaceError)

# Below this much free space on the SQLite database's filesystem it is reported unwritable: a write needs room for
# its pages in the WAL, and a checkpoint room to grow the database file.
LOW_SPACE_BYTES: Final = 1024 * 1024
# /health reads the free space at most this often (a statvfs call): it stays as cheap as the benchmark needs.
SPACE_CHECK_EVERY_S: Final = 1.0
DISK_FULL: Final = "no space left on device"


def _unicode_lower(value: str | None) -> str | None:
    return value.lower() if isinstance(value, str) else value


_STORED_TIME = UtcDateTimeField()


def _api_time(value: Any) -> str | None:
    """A stored time as the API writes it (``clock.rfc3339``): the SQL-built job listing's way for a time not
    stored in Peewee's usual form."""
    return None if value is None else rfc3339(_STORED_TIME.python_value(value))


def _api_json(text: str | None) -> str | None:
    """Stored JSON that SQLite's json() refuses (NaN or Infinity, which Python writes) as the API writes it:
    null in their place, as pydantic does."""
    return None if text is None else json.dumps(json.loads(text, parse_constant=lambda _: None))


class _SqliteDatabase(PooledSqliteDatabase):  # type: ignore[misc]
    def rollback(self) -> None:
        # After SQLITE_FULL (or an I/O error) SQLite has already rolled the transaction back: rolling back again
        # fails with "cannot rollback - no transaction is active", which hid the disk-full error from the caller.
        connection = self._state.conn
        if connection is not None and not connection.in_transaction:
            return
        super().rollback()


def connect_url(url: str, max_connections: int) -> Any:
    """A pooled Peewee database for ``sqlite:///PATH`` or ``postgresql://USER[:PW]@HOST[:PORT]/DB``.

    As in SQLAlchemy, ``sqlite:///var/x.db`` is relative to the working directory and ``sqlite:////srv/x.db``
    absolute.
    """
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        path = Path(unquote(url.removeprefix("sqlite:///")))
        sqlite_files(path)  # 0600 before SQLite makes them (its WAL files take the database file's mode)
        database = _SqliteDatabase(
            str(path),
            pragmas=SQLITE_PRAGMAS,
            max_connections=max_connections,
            stale_timeout=300,
            timeout=30,
            check_same_thread=False,
            # Every transaction takes the write lock when it begins: a deferred one that reads and then
            # writes fails at once with "database is locked" when another writer got there in between.
            lock_type="IMMEDIATE",
        )
        # SQLite's LOWER() folds ASCII only; PostgreSQL's folds all of Unicode. Searches must match the same.
        database.register_function(_unicode_lower, "nr_lower", 1)
        database.register_function(_api_time, "nr_api_time", 1)
        database.register_function(_api_json, "nr_api_json", 1)
        return database
    if parts.scheme in ("postgresql", "postgres"):
        if not parts.path.strip("/"):
            raise ConfigurationError("database URL: a PostgreSQL URL needs a database name")
        return PooledPostgresqlDatabase(
            unquote(parts.path.lstrip("/")),
            user=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 5432,
            max_connections=max_connections,
            stale_timeout=300,
            timeout=30,
            connect_timeout=3,
        )
    raise ConfigurationError(f"database URL: unsupported scheme {parts.scheme!r}")


def rows(query: Any) -> list[tuple[Any, ...]]:
    """The rows of a Peewee select as tuples (Peewee's stubs cannot type ``.tuples()``)."""
    return [tuple(row) for row in query.tuples()]


def is_postgresql(database: pw.Database | pw.DatabaseProxy) -> bool:
    if isinstance(database, pw.DatabaseProxy):
        database = database.obj
    return isinstance(database, pw.PostgresqlDatabase)


def _is_disk_full(error: BaseException | None) -> bool:
    """Whether SQLite said the disk is full, anywhere in the error's chain (Peewee wraps sqlite3's errors, and a
    failed rollback used to hide them)."""
    seen = 0
    while error is not None and seen < 8:
        if isinstance(error, sqlite3.Error) and getattr(error, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_FULL:
            return True
        if isinstance(error, OSError) and error.errno == errno.ENOSPC:
            return True
        wrapped = error.args[0] if error.args and isinstance(error.args[0], BaseException) else None
        error = wrapped or error.__cause__ or error.__context__
        seen += 1
    return False


def _free_bytes(path: Path) -> int:
    """Free bytes where ``path`` lives, as a process of this user may use them (root may use the reserve)."""
    stat = os.statvfs(path)
    blocks = stat.f_bfree if os.geteuid() == 0 else stat.f_bavail
    return blocks * stat.f_frsize


class Writability:
    """Whether the SQLite database can be written, for /health and the log (one line per change of state).

    Unwritable: less than LOW_SPACE_BYTES free on its filesystem, or a write refused because the disk is full and
    no room freed since (free space grown by LOW_SPACE_BYTES over what was free then: a big write can fail with
    more than the low mark free). Reads of free space are a statvfs call, at most once per SPACE_CHECK_EVERY_S
    from /health. PostgreSQL (``directory`` None) is always writable here: its server's disk is its own.
    """

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self._lock = threading.Lock()
        self._free_at_refusal: int | None = None
        self._checked_at = float("-inf")
        self.problem: str | None = None  # why it is unwritable; None while writable

    def refused(self) -> None:
        """A write failed because the disk is full."""
        with self._lock:
            free = self._read_free()
            if self._free_at_refusal is None:
                self._free_at_refusal = free
            self._update(free)

    def check(self) -> str | None:
        """Why the database is unwritable now (None: writable), read again at most once per SPACE_CHECK_EVERY_S."""
        if self.directory is None:
            return None
        with self._lock:
            if time.monotonic() - self._checked_at >= SPACE_CHECK_EVERY_S:
                self._update(self._read_free())
            return self.problem

    def _read_free(self) -> int | None:
        assert self.directory is not None
        self._checked_at = time.monotonic()
        try:
            return _free_bytes(self.directory)
        except OSError:
            return None  # the directory is gone or unreadable: the writes themselves will say so

    def _update(self, free: int | None) -> None:
        refused_at = self._free_at_refusal
        if free is None:
            full = refused_at is not None
        else:
            full = free < LOW_SPACE_BYTES or (refused_at is not None and free < refused_at + LOW_SPACE_BYTES)
        if not full:
            self._free_at_refusal = None
        problem = f"{DISK_FULL}: {_size(free)} free on the filesystem of {self.directory}" if full else None
        if (problem is None) != (self.problem is None):
            if problem:
                log.error(
                    "database unwritable: %s; writes are refused (503) and workers keep what they must "
                    "store until space is freed",
                    problem,
                )
            else:
                log.warning("database writable again: %s free", _size(free))
        self.problem = problem


def _size(free: int | None) -> str:
    if free is None:
        return "unknown space"
    return f"{free / 1024 / 1024:.1f} MiB" if free >= 1024 * 1024 else f"{free // 1024} KiB"


class Database:
    """Owns the Peewee database of this process and the threads that use it."""

    def __init__(self, url: str, threads: int) -> None:
        self.url = url
        self.peewee: Any = connect_url(url, max_connections=threads + 4)
        database_proxy.initialize(self.peewee)
        self.writability = Writability(None if self.is_postgresql else Path(self.peewee.database).absolute().parent)
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="db")

    @property
    def is_postgresql(self) -> bool:
        return is_postgresql(self.peewee)

    @contextmanager
    def connection(self) -> Iterator[None]:
        """A pooled connection for the calling thread; failures to reach the database become 503s.

        Peewee's PostgreSQL pool checks a connection with a round trip on checkout, so dead connections left
        by a server restart are replaced before use (tests/integration/test_health.py proves it).
        """
        try:
            with self.peewee.connection_context():
                yield
        except UNAVAILABLE_ERRORS as exc:
            if self.writability.directory is not None and _is_disk_full(exc):
                self.writability.refused()
                raise DatabaseUnwritable() from exc
            raise DatabaseUnavailable() from exc
        if self.writability.problem is not None:
            self.writability.check()  # a call went through: perhaps space is back (logged once, when it is)

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        with self.connection():
            return fn(*args, **kwargs)

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn`` in a database thread inside its own connection."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(self.call, fn, *args, **kwargs))

    def ping(self) -> None:
        self.call(lambda: self.peewee.execute_sql("SELECT 1").fetchone())

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
        self.peewee.close_all()
