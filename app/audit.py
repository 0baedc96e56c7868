"""The audit trail: who did what, appended one row per state-changing action, read back, exported, pruned by age.

Rows are only ever inserted (``record``) and deleted by age (app/retention.py): nothing here, in the API or in the CLI
updates a row or deletes one for any other reason. What a row says of the request's fields is its ``summary``:
field names and values, where every secret field (one rule, ``is_secret``) shows only as "(set)" or "(changed)".
"""

from __future__ import annotations

import getpass
import json
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal, TextIO, TypeVar

from app.clock import rfc3339, utcnow
from app.db import Database
from app.errors import NewRemoraError
from app.models import AuditEvent

log = logging.getLogger(__name__)
T = TypeVar("T")

Outcome = Literal["success", "refused", "failed"]
OUTCOMES: Final[tuple[Outcome, ...]] = ("success", "refused", "failed")

# A field is secret when its name is one of these or ends with one (``ansible_password``, ``db_token`` in a
# playbook's extra vars). ``content`` is an inventory's text, which may carry ``ansible_password=...`` lines.
SECRET_NAMES: Final = ("password", "passphrase", "private_key", "secret_key", "secret", "token", "access_token")
SECRET_FIELDS: Final = frozenset({*SECRET_NAMES, "content", "key", "pem_file"})
SET: Final = "(set)"
CHANGED: Final = "(changed)"
# A long value (a script) is cut: the job keeps it whole; the row says what it was about.
MAX_SUMMARY_TEXT: Final = 200
# A summary larger than this (a playbook's big extra vars) keeps only the names of the fields given.
MAX_SUMMARY_BYTES: Final = 16 * 1024
EXPORT_BATCH: Final = 500


def is_secret(name: str) -> bool:
    lowered = name.lower()
    return lowered in SECRET_FIELDS or lowered.endswith(SECRET_NAMES)


def _redacted(value: Any, marker: str) -> Any:
    if isinstance(value, Mapping):
        return {
            str(k): (marker if is_secret(str(k)) and v is not None else _redacted(v, marker)) for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_redacted(item, marker) for item in value]
    if isinstance(value, str) and len(value) > MAX_SUMMARY_TEXT:
        return f"{value[:MAX_SUMMARY_TEXT]}… ({len(value)} characters)"
    return value


def summarize(fields: Mapping[str, Any], changed: bool) -> dict[str, Any]:
    """The fields a request gave, for the row: a secret given shows as "(set)" (or "(changed)" on an update), a
    secret cleared as null; never its value."""
    result: dict[str, Any] = _redacted(fields, CHANGED if changed else SET)
    return result


def outcome_of(status: int) -> Outcome:
    if status < 400:
        return "success"
    return "refused" if status < 500 else "failed"


@dataclass(frozen=True)
class Entry:
    """One row to append."""

    actor: str
    actor_kind: str
    action: str
    outcome: Outcome
    object_type: str | None = None
    object_id: str | None = None
    summary: dict[str, Any] | None = None
    key_id: str | None = None
    user_id: str | None = None
    source: str | None = None
    request_id: str | None = None
    status: int | None = None


def _summary_text(summary: dict[str, Any] | None) -> str | None:
    if summary is None:
        return None
    text = json.dumps(summary, sort_keys=True, default=str)
    if len(text) > MAX_SUMMARY_BYTES:
        text = json.dumps({"fields": sorted(summary), "omitted": f"summary of {len(text)} bytes"})
    return text


def record(entry: Entry) -> None:
    """Append one row (in the caller's transaction, if it has one)."""
    AuditEvent.create(
        at=utcnow(),
        actor=entry.actor[:255],
        actor_kind=entry.actor_kind,
        key_id=entry.key_id,
        user_id=entry.user_id,
        action=entry.action,
        object_type=entry.object_type,
        object_id=entry.object_id[:255] if entry.object_id else entry.object_id,
        summary=_summary_text(entry.summary),
        source=entry.source[:64] if entry.source else None,
        request_id=entry.request_id,
        outcome=entry.outcome,
        status=entry.status,
    )


def cli_entry(action: str, outcome: Outcome, **fields: Any) -> Entry:
    """A row for an admin command: the actor is the operating system user who ran it, ``cli:<user>``."""
    return Entry(actor=f"cli:{getpass.getuser()}", actor_kind="cli", action=action, outcome=outcome, **fields)


@dataclass(frozen=True)
class AuditFilter:
    actor: str | None = None
    action: str | None = None
    object_type: str | None = None
    object_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    outcome: Outcome | None = None


def _where(query: Any, found: AuditFilter) -> Any:
    for name in ("actor", "action", "object_type", "object_id", "outcome"):
        value = getattr(found, name)
        if value is not None:
            query = query.where(getattr(AuditEvent, name) == value)
    if found.since is not None:
        query = query.where(AuditEvent.at >= found.since)
    if found.until is not None:
        query = query.where(AuditEvent.at < found.until)
    return query


def list_events(found: AuditFilter, before_id: int | None, limit: int) -> tuple[list[AuditEvent], int | None]:
    """Newest first, ``limit`` rows older than ``before_id`` (the cursor); and the cursor of the next page (None:
    this is the last). Keyed on the id, so rows appended meanwhile (newer) never shift a later page."""
    query = _where(AuditEvent.select(), found)
    if before_id is not None:
        query = query.where(AuditEvent.id < before_id)
    rows = list(query.order_by(AuditEvent.id.desc()).limit(limit + 1))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (int(rows[-1].id) if more and rows else None)


def event_dict(event: AuditEvent) -> dict[str, Any]:
    """A row as the API and the export show it."""
    return {
        "id": int(event.id),
        "at": rfc3339(event.at),
        "actor": event.actor,
        "actor_kind": event.actor_kind,
        "key_id": event.key_id,
        "user_id": event.user_id,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "summary": json.loads(event.summary) if event.summary is not None else None,
        "source": event.source,
        "request_id": event.request_id,
        "outcome": event.outcome,
        "status": event.status,
    }


def export_events(database: Database, found: AuditFilter) -> Iterator[dict[str, Any]]:
    """Every matching row, oldest first, read in batches of EXPORT_BATCH (each its own short query), so memory
    stays constant whatever the table's size."""
    after = 0
    while True:
        query = _where(AuditEvent.select(), found).where(AuditEvent.id > after)

        def batch(q: Any = query) -> list[dict[str, Any]]:
            return [event_dict(e) for e in q.order_by(AuditEvent.id).limit(EXPORT_BATCH)]

        rows = database.call(batch)
        yield from rows
        if len(rows) < EXPORT_BATCH:
            return
        after = rows[-1]["id"]


def run_audited(
    database: Database,
    action: str,
    object_type: str,
    work: Callable[[], T],
    object_of: Callable[[T], str | None],
    summary: dict[str, Any],
) -> T:
    """An admin command's change and its row in one transaction (actor ``cli:<os user>``); a refusal leaves a
    row of its own, outcome refused, before the error goes on to the command's message."""

    def inside() -> T:
        with AuditEvent._meta.database.atomic():
            result = work()
            entry = cli_entry(action, "success", object_type=object_type, object_id=object_of(result), summary=summary)
            record(entry)
        return result

    try:
        return database.call(inside)
    except NewRemoraError:
        database.call(record, cli_entry(action, "refused", object_type=object_type, summary=summary))
        raise


def export_lines(database: Database, found: AuditFilter, out: TextIO) -> int:
    """``newremora audit export``: one JSON object per line, oldest first, written as it is read."""
    count = 0
    for event in export_events(database, found):
        out.write(json.dumps(event, sort_keys=False) + "\n")
        count += 1
    out.flush()
    return count
