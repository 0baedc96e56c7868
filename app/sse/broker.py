"""Wakes the streams of a job when it changes, and keeps its most recent chunks for them.

Lives on the event loop; worker threads reach it through ThreadSafeNotifier. A subscriber holds one flag and
one event, never a queue of data: however slow a client is, it costs the same small amount of memory, and it
catches up from this cache or from the database at its own pace (it can never slow a job or another client).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, Protocol

log = logging.getLogger(__name__)

CACHE_BYTES_PER_JOB: Final = 1024 * 1024


class ChunkLike(Protocol):
    @property
    def seq(self) -> int: ...

    @property
    def stream(self) -> str: ...

    @property
    def data(self) -> str: ...


@dataclass(eq=False)
class Subscriber:
    job_id: str
    event: asyncio.Event = field(default_factory=asyncio.Event)
    status_changed: bool = False


@dataclass
class _Feed:
    subscribers: set[Subscriber] = field(default_factory=set)
    recent: deque[ChunkLike] = field(default_factory=deque)
    recent_bytes: int = 0
    # The newest chunk anyone told us about (this process's workers, or another node through NOTIFY).
    latest_seq: int = 0


class Broker:
    def __init__(self, cache_bytes_per_job: int = CACHE_BYTES_PER_JOB) -> None:
        self._feeds: dict[str, _Feed] = {}
        self._cache_bytes = cache_bytes_per_job
        self._subscribers = 0

    def subscriber_count(self) -> int:
        """Open streams (read by the metrics from another thread: a plain int, always consistent)."""
        return self._subscribers

    def subscribe(self, job_id: str) -> Subscriber:
        subscriber = Subscriber(job_id)
        self._feeds.setdefault(job_id, _Feed()).subscribers.add(subscriber)
        self._subscribers += 1
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        feed = self._feeds.get(subscriber.job_id)
        if feed is None or subscriber not in feed.subscribers:
            return
        feed.subscribers.discard(subscriber)
        self._subscribers -= 1
        if not feed.subscribers:
            del self._feeds[subscriber.job_id]

    def publish_output(self, job_id: str, chunks: Sequence[ChunkLike]) -> None:
        feed = self._feeds.get(job_id)
        if feed is None or not chunks:
            return  # nobody watches: nothing to keep
        for chunk in chunks:
            if feed.recent and chunk.seq != feed.recent[-1].seq + 1:
                feed.recent.clear()  # keep the cache contiguous; a gap is read from the database
                feed.recent_bytes = 0
            feed.recent.append(chunk)
            feed.recent_bytes += len(chunk.data)
            feed.latest_seq = max(feed.latest_seq, chunk.seq)
        while feed.recent_bytes > self._cache_bytes and len(feed.recent) > 1:
            feed.recent_bytes -= len(feed.recent.popleft().data)
        self._wake(feed, status_changed=False)

    def publish_seq(self, job_id: str, seq: int) -> None:
        """Chunks up to ``seq`` exist (stored by another process)."""
        feed = self._feeds.get(job_id)
        if feed is not None and seq > feed.latest_seq:
            feed.latest_seq = seq
            self._wake(feed, status_changed=False)

    def publish_status(self, job_id: str) -> None:
        feed = self._feeds.get(job_id)
        if feed is not None:
            self._wake(feed, status_changed=True)

    def chunks_after(self, job_id: str, seq: int) -> list[ChunkLike] | None:
        """What follows ``seq`` as far as anyone told us, or None when only the database can say."""
        feed = self._feeds.get(job_id)
        if feed is None or feed.latest_seq <= seq:
            return []
        recent = feed.recent
        if recent and recent[0].seq <= seq + 1 and recent[-1].seq >= feed.latest_seq:
            return [chunk for chunk in recent if chunk.seq > seq]
        return None

    @staticmethod
    def _wake(feed: _Feed, status_changed: bool) -> None:
        for subscriber in feed.subscribers:
            if status_changed:
                subscriber.status_changed = True
            subscriber.event.set()


class ThreadSafeNotifier:
    """What worker and listener threads call: hands each change to the broker on the event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, broker: Broker) -> None:
        self._loop = loop
        self._broker = broker

    def _call(self, method: object, *args: object) -> None:
        # A closed loop means the streams are gone too.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(method, *args)  # type: ignore[arg-type]

    def output(self, job_id: str, chunks: Sequence[ChunkLike]) -> None:
        self._call(self._broker.publish_output, job_id, list(chunks))

    def output_seq(self, job_id: str, seq: int) -> None:
        self._call(self._broker.publish_seq, job_id, seq)

    def changed(self, job_id: str) -> None:
        self._call(self._broker.publish_status, job_id)
