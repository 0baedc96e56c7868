"""Totals of job listings: small ones counted on every request, large ones reused for a moment.

Counting the jobs that match a filter means visiting every one of them: tens of milliseconds at 100,000 jobs, more
with a search, on every page request. Dashboards refresh the same listing and several people watch the same one,
so a large total is counted at most once per ``ttl`` seconds per filter and process (bench/api_reads.py measured
why). Totals below ``large`` are cheap to count and stay exact on every request: that is where a difference of
one job matters (a queue draining, a narrow search).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Final

DEFAULT_TTL_S: Final = 2.0
DEFAULT_LARGE: Final = 1000
DEFAULT_MAX_FILTERS: Final = 256


@dataclass
class _Entry:
    known: tuple[int, float] | None = None  # a large total and when it was counted
    small: bool = False  # the last count was small: count again, without waiting for anyone
    lock: threading.Lock = field(default_factory=threading.Lock)


class ListingTotals:
    """Thread-safe; one per process (the API's database threads share it)."""

    def __init__(
        self,
        ttl: float = DEFAULT_TTL_S,
        large: int = DEFAULT_LARGE,
        max_filters: int = DEFAULT_MAX_FILTERS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.large = large
        self.max_filters = max_filters
        self._clock = clock
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def total(self, key: Hashable, count: Callable[[], int]) -> int:
        """The total for ``key``: a large one counted less than ``ttl`` seconds ago, otherwise ``count()``.

        While one request recounts an expired large total, the others answer with the previous one rather than
        wait for it (or all scan the table at once)."""
        entry = self._entry(key)
        if (known := self._fresh(entry)) is not None:
            return known
        if entry.small:
            return self._count(entry, count)
        stale = entry.known
        if not entry.lock.acquire(blocking=stale is None):
            assert stale is not None  # a blocking acquire does not fail
            return stale[0]
        try:
            if (known := self._fresh(entry)) is not None:
                return known  # counted by another request just now
            return self._count(entry, count)
        finally:
            entry.lock.release()

    def _entry(self, key: Hashable) -> _Entry:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                entry = self._entries[key] = _Entry()
                while len(self._entries) > self.max_filters:
                    self._entries.popitem(last=False)
            else:
                self._entries.move_to_end(key)
            return entry

    def _fresh(self, entry: _Entry) -> int | None:
        known = entry.known
        if known is not None and self._clock() - known[1] < self.ttl:
            return known[0]
        return None

    def _count(self, entry: _Entry, count: Callable[[], int]) -> int:
        counted_at = self._clock()
        total = count()
        entry.small = total < self.large
        entry.known = None if entry.small else (total, counted_at)
        return total
