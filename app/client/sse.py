"""Server-Sent Events, read line by line (only what the job stream sends: event, data, id; comments)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Event:
    name: str
    data: str
    event_id: str | None = None

    def json(self) -> dict[str, Any]:
        value = json.loads(self.data)
        return value if isinstance(value, dict) else {}


def parse_events(lines: Iterable[str]) -> Iterator[Event]:
    """Events in the order they were sent; an event cut off before its blank line is not yielded."""
    name, event_id, data = "message", None, list[str]()
    for line in lines:
        if line == "":
            if data:
                yield Event(name, "\n".join(data), event_id)
            name, event_id, data = "message", None, list[str]()
        elif not line.startswith(":"):
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)
            elif field == "id":
                event_id = value
