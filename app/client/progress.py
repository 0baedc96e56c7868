"""A one-line status with a spinner on stderr while a job waits; only on a terminal, never in a pipe."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Iterator
from typing import Final, TextIO

FRAMES: Final = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
CLEAR_LINE: Final = "\r\x1b[K"


def wants_progress(stream: TextIO) -> bool:
    return stream.isatty() and os.environ.get("TERM", "") != "dumb"


def _columns(stream: TextIO) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns or 80
    except (OSError, ValueError):
        return 80


class StatusLine:
    """``show(text)`` redraws the line (call it often to spin); ``clear()`` before anything else is written."""

    def __init__(self, stream: TextIO | None = None, enabled: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = wants_progress(self.stream) if enabled is None else enabled
        self.started = time.monotonic()
        self.frame = 0
        self.visible = False

    def show(self, text: str) -> None:
        if not self.enabled:
            return
        self.frame = (self.frame + 1) % len(FRAMES)
        elapsed = int(time.monotonic() - self.started)
        line = f"{FRAMES[self.frame]} {text} ({elapsed}s)"
        # A line longer than the terminal wraps, and the carriage return would then clear only its last row.
        width = _columns(self.stream)
        if len(line) >= width:
            line = line[: max(width - 2, 1)] + "…"
        self.stream.write(f"{CLEAR_LINE}{line}")
        self.stream.flush()
        self.visible = True

    def clear(self) -> None:
        if self.visible:
            self.stream.write(CLEAR_LINE)
            self.stream.flush()
            self.visible = False


@contextlib.contextmanager
def spinning(text: str) -> Iterator[None]:
    """A status line that spins while the body waits on something (a request), cleared afterwards."""
    line = StatusLine()
    if not line.enabled:
        yield
        return
    stop = threading.Event()

    def spin() -> None:
        while not stop.wait(0.1):
            line.show(text)

    spinner = threading.Thread(target=spin, name="spinner", daemon=True)
    spinner.start()
    try:
        yield
    finally:
        stop.set()
        spinner.join()
        line.clear()
