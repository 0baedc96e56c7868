"""The database: a Peewee proxy bound from a URL, and a thread pool that runs database work.

Peewee keeps connection state per thread, and Quart handlers all run on the event-loop thread, so
database work runs in a small pool of threads, each call inside its own pooled connection.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final, TypeVar
from urllib.parse import unquote, urlsplit

import peewee as pw
from playhouse.pool import PooledPostgresqlDatabase, PooledSqliteDatabase

from app.clock import rfc3339
from app.errors import ConfigurationError, DatabaseUnavailable
from app.fields import UtcDateTimeField

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


def connect_url(url: str, max_connections: int) -> Any:
    """A pooled Peewee database for ``sqlite:///PATH`` or ``postgresql://USER[:PW]@HOST[:PORT]/DB``.

    As in SQLAlchemy, ``sqlite:///var/x.db`` is relative to the working directory and ``sqlite:////srv/x.db``
    absolute.
    """
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        path = Path(unquote(url.removeprefix("sqlite:///")))
        path.parent.mkdir(parents=True, exist_ok=True)
        database = PooledSqliteDatabase(
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


class Database:
    """Owns the Peewee database of this process and the threads that use it."""

    def __init__(self, url: str, threads: int) -> None:
        self.url = url
        self.peewee: Any = connect_url(url, max_connections=threads + 4)
        database_proxy.initialize(self.peewee)
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
            raise DatabaseUnavailable() from exc

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
