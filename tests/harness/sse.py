"""A small Server-Sent Events client over httpx, recording when each event arrived."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class Event:
    name: str
    data: str
    event_id: str | None
    arrived: float  # time.time(), to compare with timestamps printed on the target (same machine)

    def json(self) -> Any:
        return json.loads(self.data)


async def events(response: httpx.Response) -> AsyncIterator[Event]:
    """Events of an open streaming response; comments are yielded as name ":" (keep-alives)."""
    name, event_id = "message", None
    data: list[str] = []
    async for line in response.aiter_lines():
        if line == "":
            if data:
                yield Event(name, "\n".join(data), event_id, time.time())
            name, data, event_id = "message", [], None
        elif line.startswith(":"):
            yield Event(":", line[1:].strip(), None, time.time())
        else:
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)
            elif field == "id":
                event_id = value


async def collect(
    client: httpx.AsyncClient, url: str, *, stop_after_outputs: int | None = None, headers: dict[str, str] | None = None
) -> list[Event]:
    """Read a stream until ``complete`` (or until ``stop_after_outputs`` output events, then disconnect)."""
    received: list[Event] = []
    async with client.stream("GET", url, headers=headers) as response:
        assert response.status_code == 200, await response.aread()
        async for event in events(response):
            received.append(event)
            outputs = sum(1 for e in received if e.name == "output")
            if event.name == "complete" or (stop_after_outputs is not None and outputs >= stop_after_outputs):
                break
    return received


def joined(received: list[Event], stream: str) -> str:
    return "".join(e.json()["content"] for e in received if e.name == "output" and e.json()["type"] == stream)
