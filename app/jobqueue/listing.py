"""The job listing's lean read path: a page of jobs as plain dicts, JSON-ready, without a model per row.

A listing request used to cost ~1 ms plus ~90 µs per job in Python (docs/benchmarks.md, "API reads"): Peewee
compiling the query, building a model instance per row, pydantic building and dumping a ``JobOut``. Here the
SQL of each filter *shape* (which filters are set, the sort, the database) is compiled once by Peewee from the
same query terms as ``reads`` (with marker values in place of the request's), and each row goes straight from
the cursor's tuple to the dict ``JobOut`` would have dumped: same keys in the same order, same values.
tests/integration/test_job_listing_rows.py compares both for every kind of job, so they cannot drift.
"""

from __future__ import annotations

import functools
import json
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import peewee as pw

from app.db import is_postgresql
from app.errors import NotFound
from app.fields import UtcDateTimeField
from app.jobqueue.totals import ListingTotals
from app.models import Job, Server
from app.servers import parse_id

SortField = Literal["created_at", "started_at", "finished_at"]


@dataclass(frozen=True)
class JobFilter:
    page: int = 1
    limit: int = 20
    status: str | None = None
    server_id: str | None = None
    batch_id: str | None = None
    search: str | None = None
    sort_by: SortField = "created_at"
    sort_order: Literal["asc", "desc"] = "desc"


# SQLite's own LIKE ignores the case of ASCII letters only; Unicode case folding takes a call into Python per
# value (app/db.py) that holds the GIL. Only values with a character beyond ASCII need it.
_BEYOND_ASCII = "*[^\x01-\x7f]*"


def search_pattern(text: str) -> str:
    """The LIKE pattern of "contains ``text``": lower case, ``%`` and ``_`` taken literally."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _contains_ignoring_case(field: pw.Field, pattern: str, postgresql: bool) -> Any:
    def like(value: Any) -> pw.NodeList:
        return pw.NodeList((value, pw.SQL("LIKE"), pattern, pw.SQL("ESCAPE '\\'")))

    if postgresql:
        return like(pw.fn.LOWER(field))
    # The pattern is lower-case, so for an all-ASCII value SQLite's LIKE gives what LIKE on its lower case would.
    return like(field) | (pw.NodeList((field, pw.SQL("GLOB"), _BEYOND_ASCII)) & like(pw.fn.nr_lower(field)))


def _order(sort_by: SortField, sort_order: str) -> list[Any]:
    """The sort field (missing times last), then creation time and id: a stable order for pages."""
    desc = sort_order == "desc"

    def term(field: pw.Field, nulls: str | None = None) -> Any:
        return field.desc(nulls=nulls) if desc else field.asc(nulls=nulls)

    tie_break = [term(Job.created_at), term(Job.id)]
    if sort_by == "created_at":
        # Never null: NULLS LAST here would only keep PostgreSQL from walking the index in this order.
        return tie_break
    return [term(getattr(Job, sort_by), nulls="LAST"), *tie_break]


# The page's columns, in the order the row builder reads them.
_COLUMNS = (
    Job.id,
    Job.kind,
    Job.command,
    Job.args,
    Job.script,
    Job.shell,
    Job.playbook,
    Job.extra_vars,
    Job.status,
    Job.priority,
    Job.timeout,
    Job.exit_code,
    Job.error,
    Job.failure_reason,
    Job.created_at,
    Job.started_at,
    Job.finished_at,
    Job.cancel_requested_at,
    Job.canceled_at,
    Job.stored_bytes,
    Job.stdout_omitted,
    Job.stderr_omitted,
    Job.batch_id,
    Job.become,
    Job.become_user,
    Server.id,
    Server.name,
    Server.hostname,
)

# Marker values the SQL of a shape is compiled with; each request's own values take their places.
_MARKERS = {
    "status": "\x00nr:status\x00",
    "server_id": "\x00nr:server_id\x00",
    "batch_id": "\x00nr:batch_id\x00",
    "search": "\x00nr:search\x00",
    "limit": 987_654_301,
    "offset": 987_654_302,
}


@dataclass(frozen=True)
class _Shape:
    status: bool
    server_id: bool
    batch_id: bool
    search: bool
    sort_by: SortField
    sort_order: str
    postgresql: bool


@dataclass(frozen=True)
class Compiled:
    """SQL and, per parameter, the name of the request value it takes (or None: a constant kept as compiled)."""

    sql: str
    slots: tuple[tuple[str | None, Any], ...]

    def params(self, values: dict[str, Any]) -> list[Any]:
        return [values[name] if name is not None else constant for name, constant in self.slots]


def _compile(query: Any) -> Compiled:
    sql, params = query.sql()
    by_marker = {marker: name for name, marker in _MARKERS.items()}
    slots = []
    for param in params:
        name = by_marker.get(param) if isinstance(param, str | int) else None
        slots.append((name, None if name is not None else param))
    return Compiled(sql, tuple(slots))


@functools.lru_cache(maxsize=64)
def _compiled(shape: _Shape) -> tuple[Compiled, Compiled]:
    """The page and the count query of a shape (Peewee compiling one took ~0.3 ms per request)."""
    terms: list[Any] = []
    if shape.status:
        terms.append(Job.status == _MARKERS["status"])
    if shape.server_id:
        terms.append(Job.server == _MARKERS["server_id"])
    if shape.batch_id:
        terms.append(Job.batch_id == _MARKERS["batch_id"])
    if shape.search:
        pattern = str(_MARKERS["search"])
        fields = (Job.command, Job.args, Job.script, Job.playbook)
        matches = [_contains_ignoring_case(field, pattern, shape.postgresql) for field in fields]
        terms.append(functools.reduce(operator.or_, matches))

    def filtered(select: Any) -> Any:
        return select.where(*terms) if terms else select

    page = filtered(Job.select(*_COLUMNS).join(Server)).order_by(*_order(shape.sort_by, shape.sort_order))
    page = page.limit(_MARKERS["limit"]).offset(_MARKERS["offset"])
    count = filtered(Job.select(pw.fn.COUNT(Job.id)))
    return _compile(page), _compile(count)


def list_job_rows(query: JobFilter, totals: ListingTotals) -> tuple[list[dict[str, Any]], int]:
    """A page of jobs as the dicts ``JobOut.model_dump(mode="json")`` gives, and the total (``reads.list_jobs``
    without models)."""
    values: dict[str, Any] = {
        "status": query.status,
        "search": search_pattern(query.search) if query.search else None,
        "limit": query.limit,
        "offset": (query.page - 1) * query.limit,
    }
    try:
        values["server_id"] = parse_id(query.server_id, "Server") if query.server_id else None
        values["batch_id"] = parse_id(query.batch_id, "Batch") if query.batch_id else None
    except NotFound:
        return [], 0  # not an id: matches nothing
    database = Job._meta.database
    shape = _Shape(
        status=bool(query.status),
        server_id=bool(query.server_id),
        batch_id=bool(query.batch_id),
        search=bool(query.search),
        sort_by=query.sort_by,
        sort_order=query.sort_order,
        postgresql=is_postgresql(database),
    )
    page, count = _compiled(shape)

    def counted() -> int:
        return int(database.execute_sql(count.sql, count.params(values)).fetchone()[0])

    total = totals.total((query.status, query.server_id, query.batch_id, query.search), counted)
    cursor = database.execute_sql(page.sql, page.params(values))
    to_time = _time_reader(shape.postgresql)
    return [_job_dict(row, to_time) for row in cursor.fetchall()], total


_TIME_FIELD = UtcDateTimeField()


def _rfc3339(value: datetime) -> str:
    """``clock.rfc3339`` of a naive UTC datetime (as both databases hand them back)."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(timespec="milliseconds") + "Z"


def _sqlite_time(value: Any) -> str | None:
    if value is None:
        return None
    # Peewee stores "YYYY-MM-DD HH:MM:SS.ffffff" (no fraction when it is 0); anything else takes the long way.
    if isinstance(value, str) and len(value) == 26 and value[10] == " " and value[19] == ".":
        return f"{value[:10]}T{value[11:23]}Z"
    return _rfc3339(_TIME_FIELD.python_value(value))


def _postgresql_time(value: Any) -> str | None:
    return None if value is None else _rfc3339(value)


def _time_reader(postgresql: bool) -> Callable[[Any], str | None]:
    return _postgresql_time if postgresql else _sqlite_time


def _job_dict(row: Sequence[Any], time: Callable[[Any], str | None]) -> dict[str, Any]:
    """One row of ``_COLUMNS`` as ``JobOut`` dumps it (JSON mode), keys in its order."""
    (
        job_id,
        kind,
        command,
        args,
        script,
        shell,
        playbook,
        extra_vars,
        status,
        priority,
        timeout,
        exit_code,
        error,
        failure_reason,
        created_at,
        started_at,
        finished_at,
        cancel_requested_at,
        canceled_at,
        stored_bytes,
        stdout_omitted,
        stderr_omitted,
        batch_id,
        become,
        become_user,
        server_id,
        server_name,
        server_hostname,
    ) = row
    return {
        "id": job_id,
        "kind": kind,
        "command": command,
        "args": args,
        "script": script,
        "shell": shell,
        "playbook": playbook,
        "extra_vars": json.loads(extra_vars) if extra_vars is not None else None,
        "status": status,
        "server_id": server_id,
        "server": {"id": server_id, "name": server_name, "hostname": server_hostname},
        "priority": priority,
        "timeout": timeout,
        "exit_code": exit_code,
        "error": error,
        "failure_reason": failure_reason,
        "created_at": time(created_at),
        "started_at": time(started_at),
        "finished_at": time(finished_at),
        "cancel_requested_at": time(cancel_requested_at),
        "canceled_at": time(canceled_at),
        "output_bytes": stored_bytes,
        "output_truncated": int(stdout_omitted) + int(stderr_omitted) > 0,
        "batch_id": batch_id,
        "become": bool(become) if become is not None else None,
        "become_user": become_user,
    }
