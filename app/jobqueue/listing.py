"""The job listing's lean read path: a page of jobs as JSON text, without a model per row.

A listing request used to cost ~1 ms plus ~90 µs per job in Python (docs/benchmarks.md, "API reads"): Peewee
compiling the query, building a model instance per row, pydantic building and dumping a ``JobOut``. Here the
SQL of each filter *shape* (which filters are set, the sort, the database) is compiled once by Peewee, with
marker values in place of the request's. On SQLite the database writes the page's JSON itself, in one row; on
PostgreSQL each row goes straight from the cursor's tuple to the dict ``JobOut`` would have dumped. Both are
generated from one table of a job's shape (app/jobqueue/jobshape.py), which ``job_out`` uses too; and
tests/integration/test_job_listing_rows.py compares both with ``JobOut`` for every kind of job.
"""

from __future__ import annotations

import functools
import json
import operator
from dataclasses import dataclass
from typing import Any, Final, Literal

import peewee as pw

from app.db import is_postgresql
from app.errors import NotFound
from app.jobqueue.jobshape import COLUMNS, SQLITE_JOB, job_dict
from app.jobqueue.totals import ListingTotals
from app.models import Job, Server
from app.scopes import Visible
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


# Case is folded in Python (``str.lower``) for the text and in the database for the values. SQLite's lower() folds
# ASCII only; Unicode folding takes a call into Python per value (app/db.py) that holds the GIL, so only values
# with a character beyond ASCII take it. The class is spelled with char(): a bound GLOB or LIKE pattern makes
# SQLite compile the statement again at every run (sqlite3_prepare_v2's documented rule; ~40% of the page query).
_BEYOND_ASCII: Final = pw.SQL("GLOB ('*[^' || char(1) || '-' || char(127) || ']*')")


def _contains_ignoring_case(field: pw.Field, text: str, postgresql: bool) -> Any:
    """``field`` contains ``text`` (already lower case), ignoring case: a position test, not LIKE, so nothing in
    the text is a wildcard and SQLite never re-prepares the statement for a new search."""
    if postgresql:
        return pw.fn.STRPOS(pw.fn.LOWER(field), text) > 0
    ascii_folded = pw.fn.INSTR(pw.fn.LOWER(field), text) > 0
    unicode_folded = pw.NodeList((field, _BEYOND_ASCII)) & (pw.fn.INSTR(pw.fn.nr_lower(field), text) > 0)
    return ascii_folded | unicode_folded


def in_scope(field: pw.Field, visible_json: str, postgresql: bool, walk_order: bool = False) -> Any:
    """``field`` (a server id) is among the caller's visible servers, given as one JSON array parameter: one
    statement whatever the number of servers (a list of placeholders would compile one per length).

    ``walk_order``: SQLite would otherwise fetch every job of the visible servers through the server index and sort
    them (20,000 jobs: 14 ms a page instead of 1); the unary ``+`` keeps it walking the order's index and stopping
    at the page's end, as it does for an unlimited caller."""
    elements = "SELECT json_array_elements_text(" if postgresql else "SELECT value FROM json_each("
    cast = "::json)" if postgresql else ")"
    subquery = pw.NodeList((pw.SQL(elements), pw.Value(visible_json), pw.SQL(cast)), glue="")
    tested: Any = pw.NodeList((pw.SQL("+"), field), glue="") if walk_order and not postgresql else field
    return pw.Expression(tested, pw.OP.IN, pw.EnclosedNodeList([subquery]))


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


# Marker values the SQL of a shape is compiled with; each request's own values take their places.
_MARKERS: Final = {
    "status": "\x00nr:status\x00",
    "server_id": "\x00nr:server_id\x00",
    "batch_id": "\x00nr:batch_id\x00",
    "search": "\x00nr:search\x00",
    "visible": "\x00nr:visible\x00",
    "limit": 987_654_301,
    "offset": 987_654_302,
}


@dataclass(frozen=True)
class _Shape:
    status: bool
    server_id: bool
    batch_id: bool
    search: bool
    scoped: bool
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
        text = str(_MARKERS["search"])
        fields = (Job.command, Job.args, Job.script, Job.playbook)
        matches = [_contains_ignoring_case(field, text, shape.postgresql) for field in fields]
        terms.append(functools.reduce(operator.or_, matches))
    visible = str(_MARKERS["visible"])

    def filtered(select: Any, walk_order: bool = False) -> Any:
        scoped = [in_scope(Job.server, visible, shape.postgresql, walk_order)] if shape.scoped else []
        return select.where(*terms, *scoped) if terms or scoped else select

    columns = [field.alias(name) for name, field in COLUMNS.items()]
    page = filtered(Job.select(*columns).join(Server), walk_order=True).order_by(
        *_order(shape.sort_by, shape.sort_order)
    )
    page = page.limit(_MARKERS["limit"]).offset(_MARKERS["offset"])
    count = filtered(Job.select(pw.fn.COUNT(Job.id)))
    compiled_page = _compile(page)
    if not shape.postgresql:
        # The whole page in one row: Python's sqlite3 lets go of the GIL and takes it back at every row, and each
        # time the event loop wants it that is two thread switches (~50 per page of 20 under load). SQLite runs
        # an ordered, limited subquery as a co-routine and aggregates its rows in that order (the tests check the
        # order of every sort).
        sql = f"SELECT json_group_array({SQLITE_JOB}) FROM ({compiled_page.sql})"
        compiled_page = Compiled(sql, compiled_page.slots)
    return compiled_page, _compile(count)


def list_jobs_json(query: JobFilter, totals: ListingTotals, visible: Visible = None) -> tuple[str, int]:
    """A page of jobs as the JSON array of what ``JobOut.model_dump(mode="json")`` gives, and the total of the
    jobs the filter matches; with ``visible`` (a caller's scope), only jobs on those servers."""
    values: dict[str, Any] = {
        "visible": json.dumps(sorted(visible)) if visible is not None else None,
        "status": query.status,
        "search": query.search.lower() if query.search else None,
        "limit": query.limit,
        "offset": (query.page - 1) * query.limit,
    }
    try:
        values["server_id"] = parse_id(query.server_id, "Server") if query.server_id else None
        values["batch_id"] = parse_id(query.batch_id, "Batch") if query.batch_id else None
    except NotFound:
        return "[]", 0  # not an id: matches nothing
    database = Job._meta.database
    shape = _Shape(
        status=bool(query.status),
        server_id=bool(query.server_id),
        batch_id=bool(query.batch_id),
        search=bool(query.search),
        scoped=visible is not None,
        sort_by=query.sort_by,
        sort_order=query.sort_order,
        postgresql=is_postgresql(database),
    )
    page, count = _compiled(shape)

    def counted() -> int:
        return int(database.execute_sql(count.sql, count.params(values)).fetchone()[0])

    total = totals.total((query.status, query.server_id, query.batch_id, query.search, visible), counted)
    cursor = database.execute_sql(page.sql, page.params(values))
    if not shape.postgresql:
        return str(cursor.fetchone()[0]), total
    return json.dumps([job_dict(row) for row in cursor.fetchall()]), total
