"""A job's public shape in one table: each field of ``JobOut`` (app/schemas/jobs.py), in its order, with the
columns it is read from and how its JSON value is made of them.

Three readers are generated from the table, so that they cannot drift apart:

- ``SQLITE_JOB``: SQL in which SQLite writes one job as JSON itself (the lean listing on SQLite,
  app/jobqueue/listing.py);
- ``job_dict``: a row of ``COLUMNS`` as the dict of JSON values ``JobOut`` dumps (the lean listing on PostgreSQL);
- ``job_values``: the same dict from a ``Job`` model and its server (``job_out`` in app/api/jobs.py).

tests/integration/test_job_listing_rows.py holds the listing equal to ``JobOut`` for every kind of job, and
tests/unit/test_job_shape.py the table to ``JobOut``'s fields and their order.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import peewee as pw

from app.models import Job, Server


@dataclass(frozen=True)
class Shown:
    """One field of a job as the API shows it."""

    columns: tuple[pw.Field, ...]
    # Its JSON value in SQLite's SQL, from the columns' quoted names in the page's query.
    sqlite: Callable[..., str]
    # Its JSON value from the columns' values, as the database or the model hands them out; None: the one value.
    value: Callable[..., Any] | None = None


def _rfc3339(value: datetime | None) -> str | None:
    """``clock.rfc3339`` of a time as the model (aware UTC) or psycopg2 (naive UTC) hands it out."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(timespec="milliseconds") + "Z"


def _sqlite_time(column: str) -> str:
    """SQL giving ``clock.rfc3339`` of a stored time: Peewee's "YYYY-MM-DD HH:MM:SS.ffffff" (no fraction when it
    is 0) cut in SQL, anything else read in Python."""
    c = column
    return (
        f"CASE WHEN {c} IS NULL THEN NULL"
        f" WHEN length({c}) = 26 AND substr({c}, 11, 1) = ' ' AND substr({c}, 20, 1) = '.'"
        f" THEN substr({c}, 1, 10) || 'T' || substr({c}, 12, 12) || 'Z'"
        f" WHEN length({c}) = 19 AND substr({c}, 11, 1) = ' '"
        f" THEN substr({c}, 1, 10) || 'T' || substr({c}, 12) || '.000Z'"
        f" ELSE nr_api_time({c}) END"
    )


def _sqlite_json(case: str) -> str:
    """A JSON value (json() marks it as one, so json_object nests it rather than quoting it)."""
    return f"json(CASE {case} END)"


def _json_object(members: Sequence[tuple[str, str]]) -> str:
    return "json_object(" + ", ".join(f"'{key}', {value}" for key, value in members) + ")"


def _json_text(text: str | None) -> Any:
    # NaN or Infinity (stored before they were refused): null, as pydantic writes them.
    return json.loads(text, parse_constant=lambda _: None) if text is not None else None


def _flag(value: Any) -> bool | None:
    return bool(value) if value is not None else None


def column(field: pw.Field) -> Shown:
    """A column shown as it is stored."""
    return Shown((field,), lambda c: c)


def time(field: pw.Field) -> Shown:
    return Shown((field,), _sqlite_time, _rfc3339)


def json_text(field: pw.Field) -> Shown:
    """JSON stored as text, shown as the JSON value it holds."""
    return Shown(
        (field,),
        lambda c: _sqlite_json(f"WHEN {c} IS NULL THEN 'null' WHEN json_valid({c}) THEN {c} ELSE nr_api_json({c})"),
        _json_text,
    )


def flag(field: pw.Field) -> Shown:
    """A nullable boolean (SQLite stores 0 and 1)."""
    return Shown(
        (field,), lambda c: _sqlite_json(f"WHEN {c} IS NULL THEN 'null' WHEN {c} THEN 'true' ELSE 'false'"), _flag
    )


# JobOut's fields, in its order.
JOB_SHAPE: Final[dict[str, Shown]] = {
    "id": column(Job.id),
    "kind": column(Job.kind),
    "command": column(Job.command),
    "args": column(Job.args),
    "script": column(Job.script),
    "shell": column(Job.shell),
    "playbook": column(Job.playbook),
    "extra_vars": json_text(Job.extra_vars),
    "status": column(Job.status),
    "server_id": column(Server.id),
    "server": Shown(
        (Server.id, Server.name, Server.hostname),
        lambda i, n, h: _json_object([("id", i), ("name", n), ("hostname", h)]),
        lambda i, n, h: {"id": i, "name": n, "hostname": h},
    ),
    "priority": column(Job.priority),
    "timeout": column(Job.timeout),
    "exit_code": column(Job.exit_code),
    "error": column(Job.error),
    "failure_reason": column(Job.failure_reason),
    "created_at": time(Job.created_at),
    "started_at": time(Job.started_at),
    "finished_at": time(Job.finished_at),
    "cancel_requested_at": time(Job.cancel_requested_at),
    "canceled_at": time(Job.canceled_at),
    "contact_lost_at": time(Job.contact_lost_at),
    "output_bytes": column(Job.stored_bytes),
    "output_truncated": Shown(
        (Job.stdout_omitted, Job.stderr_omitted),
        lambda out, err: _sqlite_json(f"WHEN {out} + {err} > 0 THEN 'true' ELSE 'false'"),
        lambda out, err: int(out) + int(err) > 0,
    ),
    "output_pruned_at": time(Job.output_pruned_at),
    "batch_id": column(Job.batch_id),
    "become": flag(Job.become),
    "become_user": column(Job.become_user),
    "submitted_by": column(Job.submitted_by),
    "canceled_by": column(Job.canceled_by),
    "template_id": column(Job.template_id),
    "template_version": column(Job.template_version),
    "parameters": json_text(Job.parameters),
}


def _alias(field: pw.Field) -> str:
    """A column's name in the page's query: the job's own by their names, the server's as ``server_<name>``."""
    if field.model is Job:
        return str(field.name)
    if field.model is not Server:
        raise TypeError(f"{field}: a job is shown from its own columns and its server's only")
    return f"server_{field.name}"


def _columns() -> dict[str, pw.Field]:
    columns: dict[str, pw.Field] = {}
    for shown in JOB_SHAPE.values():
        for field in shown.columns:
            columns.setdefault(_alias(field), field)
    return columns


# The columns the table reads, once each, by their names in the page's query (in this order in a row).
COLUMNS: Final[dict[str, pw.Field]] = _columns()

# One job as JSON, written by SQLite from a row of COLUMNS.
SQLITE_JOB: Final = _json_object(
    [(name, shown.sqlite(*(f'"{_alias(field)}"' for field in shown.columns))) for name, shown in JOB_SHAPE.items()]
)


def _row_reader() -> Callable[[Sequence[Any]], dict[str, Any]]:
    """``job_dict``, written out from the table as one dict display and compiled once, as the listing's SQL is:
    a page on PostgreSQL builds ~26 values per job, and a call per value (an itemgetter or a closure each) cost
    ~25% more than indexing the row in place, as the hand-written builder this replaces did."""
    positions = {name: index for index, name in enumerate(COLUMNS)}
    conversions: dict[str, Callable[..., Any]] = {}
    members = []
    for name, shown in JOB_SHAPE.items():
        values = ", ".join(f"row[{positions[_alias(field)]}]" for field in shown.columns)
        if shown.value is None:
            members.append(f"{name!r}: {values}")
        else:
            conversions[f"_{name}"] = shown.value
            members.append(f"{name!r}: _{name}({values})")
    source = "def job_dict(row):\n    return {" + ", ".join(members) + "}\n"
    namespace: dict[str, Any] = dict(conversions)
    exec(compile(source, f"<{__name__} job_dict>", "exec"), namespace)  # noqa: S102 (our own text, from the table)
    reader: Callable[[Sequence[Any]], dict[str, Any]] = namespace["job_dict"]
    reader.__doc__ = "A row of COLUMNS as ``JobOut.model_dump(mode='json')`` gives it, keys in its order."
    return reader


# A row of COLUMNS as ``JobOut.model_dump(mode="json")`` gives it, keys in its order.
job_dict: Final = _row_reader()


def job_values(job: Job) -> dict[str, Any]:
    """``job_dict`` of a job read with its server (``reads.get_job``)."""
    server = job.server
    return job_dict([getattr(server if field.model is Server else job, field.name) for field in COLUMNS.values()])
