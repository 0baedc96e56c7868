"""The Server-Sent Events wire format."""

from __future__ import annotations

import json
from typing import Any


def event(name: str, data: dict[str, Any], event_id: int | None = None) -> str:
    # json.dumps escapes line breaks, so the payload is always a single data line.
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {name}\ndata: {json.dumps(data, ensure_ascii=False, separators=(',', ':'))}\n\n"


def retry(milliseconds: int) -> str:
    return f"retry: {milliseconds}\n\n"


def comment(text: str) -> str:
    return f": {text}\n\n"
