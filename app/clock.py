"""Time in one place: every stored and returned time is UTC."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def rfc3339(moment: datetime) -> str:
    """``2024-12-09T10:30:00.123Z``: UTC, millisecond precision, ``Z`` suffix."""
    # isoformat is ~2x faster than strftime, and every time of every response passes here.
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").removesuffix("+00:00") + "Z"
