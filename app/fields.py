"""Peewee field types shared by the models and the frozen models of migrations."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import peewee as pw


def new_id() -> str:
    return str(uuid.uuid4())


class IdField(pw.CharField):
    """UUID4 primary keys stored as their canonical text, the same on SQLite and PostgreSQL."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 36)
        super().__init__(**kwargs)


class UtcDateTimeField(pw.DateTimeField):
    """Stores naive UTC, hands out aware UTC datetimes (SQLite has no time zone type)."""

    def db_value(self, value: Any) -> Any:
        if isinstance(value, datetime) and value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return super().db_value(value)  # type: ignore[no-untyped-call]

    def python_value(self, value: Any) -> Any:
        if isinstance(value, str):
            # SQLite hands back the text Peewee stored; fromisoformat reads it ~10x faster than Peewee's strptime
            # (a page of 20 jobs holds ~100 times).
            try:
                value = datetime.fromisoformat(value)
            except ValueError:
                value = super().python_value(value)  # type: ignore[no-untyped-call]
        else:
            value = super().python_value(value)  # type: ignore[no-untyped-call]
        if isinstance(value, datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value
