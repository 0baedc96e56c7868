"""Polling, written once: wait until something holds, or fail saying what was awaited and what was last seen.

``condition`` is called (or awaited) every ``interval`` seconds until its value is truthy, or until ``done(value)``
holds when ``done`` is given; that value is returned. The condition is always asked at least once, and once more
after the last sleep, so a timeout of 0 (or less) still reads the current state. An exception raised by the
condition ends the wait at once: a condition that sees a process exit can fail with its own message."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

# A job with its output can be long: the failure message keeps the first characters of the last value seen.
MAX_SHOWN = 4000


def _timed_out(what: str, timeout: float, last: object) -> AssertionError:
    shown = repr(last)
    if len(shown) > MAX_SHOWN:
        shown = f"{shown[:MAX_SHOWN]}... ({len(shown)} characters)"
    return AssertionError(f"timed out after {timeout:g} s waiting for {what}; last seen: {shown}")


def wait_until(
    condition: Callable[[], T],
    timeout: float,
    what: str,
    interval: float = 0.05,
    *,
    done: Callable[[T], object] | None = None,
) -> T:
    """The first value of ``condition()`` that is truthy (or satisfies ``done``); AssertionError at ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if done(value) if done is not None else value:
            return value
        if time.monotonic() >= deadline:
            raise _timed_out(what, timeout, value)
        time.sleep(interval)


async def wait_until_async(
    condition: Callable[[], Awaitable[T]],
    timeout: float,
    what: str,
    interval: float = 0.05,
    *,
    done: Callable[[T], object] | None = None,
) -> T:
    """As :func:`wait_until`, for a condition that is awaited; the loop sleeps without blocking the event loop."""
    deadline = time.monotonic() + timeout
    while True:
        value = await condition()
        if done(value) if done is not None else value:
            return value
        if time.monotonic() >= deadline:
            raise _timed_out(what, timeout, value)
        await asyncio.sleep(interval)
