"""A lean Server-Sent Events reader for many concurrent streams: plain asyncio streams and HTTP/1.0.

httpx parses HTTP in Python per chunk and per line; with hundreds of streams on two cores the client would
measure itself. HTTP/1.0 makes the server send the body as it is (no chunked framing), ended by closing the
connection, so reading events is reading lines.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field

LINE_LIMIT = 16 * 1024 * 1024


@dataclass
class Received:
    output: list[str] = field(default_factory=list)  # the content of each output event, in order
    output_events: int = 0
    complete: dict[str, object] | None = None

    @property
    def text(self) -> str:
        return "".join(self.output)


async def read_stream(host: str, port: int, path: str, on_first_event: Callable[[], None]) -> Received:
    """Read one stream until its ``complete`` event; ``on_first_event`` is called once the stream is open."""
    reader, writer = await asyncio.open_connection(host, port, limit=LINE_LIMIT)
    received = Received()
    try:
        writer.write(f"GET {path} HTTP/1.0\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n\r\n".encode())
        status_line = (await reader.readline()).decode()
        if " 200 " not in status_line:
            raise RuntimeError(f"{path}: {status_line.strip()} {(await reader.read(2000)).decode(errors='replace')}")
        while (await reader.readline()) not in (b"\r\n", b"\n", b""):
            pass  # response headers
        name, data, opened = "message", "", False
        while line := await reader.readline():
            text = line.decode().rstrip("\n")
            if text:
                key, _, value = text.partition(":")
                value = value.removeprefix(" ")
                if key == "event":
                    name = value
                elif key == "data":
                    data = value
                continue
            if not opened:
                opened = True
                on_first_event()
            if name == "output":
                received.output.append(json.loads(data)["content"])
                received.output_events += 1
            elif name == "complete":
                received.complete = json.loads(data)
                return received
            name, data = "message", ""
        raise RuntimeError(f"{path}: the stream ended before its complete event")
    finally:
        writer.close()
