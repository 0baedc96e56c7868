"""Listing totals: small ones exact on every request, large ones counted at most once per moment and filter."""

from __future__ import annotations

import threading
from collections.abc import Callable

from app.jobqueue.totals import ListingTotals


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def counter(totals: list[int]) -> tuple[Callable[[], int], list[int]]:
    """A count() that answers the next of ``totals`` and records each call."""
    calls: list[int] = []

    def count() -> int:
        calls.append(totals[len(calls)])
        return calls[-1]

    return count, calls


def test_small_totals_are_exact_and_large_ones_reused_until_they_expire() -> None:
    clock = Clock()
    totals = ListingTotals(ttl=2.0, large=1000, clock=clock)

    count, calls = counter([5, 6, 7])
    assert [totals.total("queued", count) for _ in range(3)] == [5, 6, 7]  # every request counts
    assert len(calls) == 3

    count, calls = counter([50_000, 50_003])
    assert totals.total("completed", count) == 50_000
    clock.now += 1.9
    assert totals.total("completed", count) == 50_000  # reused, not counted
    assert totals.total("failed", counter([2000])[0]) == 2000  # each filter has its own total
    clock.now += 0.1
    assert totals.total("completed", count) == 50_003  # expired: counted again
    assert len(calls) == 2

    count, calls = counter([1500, 10, 11])
    totals.total("search", count)
    clock.now += 5
    assert [totals.total("search", count), totals.total("search", count)] == [10, 11]  # small again: exact


def test_one_request_recounts_an_expired_total_while_the_others_answer_with_the_previous_one() -> None:
    clock = Clock()
    totals = ListingTotals(ttl=2.0, large=1000, clock=clock)
    totals.total("all", lambda: 100_000)
    clock.now += 3
    counting, release = threading.Event(), threading.Event()

    def slow_count() -> int:
        counting.set()
        release.wait(10)
        return 100_001

    answers: list[int] = []
    recount = threading.Thread(target=lambda: answers.append(totals.total("all", slow_count)))
    recount.start()
    assert counting.wait(10)

    def must_not_count() -> int:
        raise AssertionError("a second count of the same filter at the same time")

    assert totals.total("all", must_not_count) == 100_000  # at once, without waiting for the recount
    release.set()
    recount.join(10)
    assert answers == [100_001]
    assert totals.total("all", must_not_count) == 100_001


def test_the_number_of_filters_remembered_is_bounded() -> None:
    totals = ListingTotals(ttl=60, large=1, max_filters=2)
    for search in ("a", "b", "c"):
        totals.total(search, lambda: 5000)
    assert totals.total("a", counter([5001])[0]) == 5001  # forgotten: the oldest filter went first
    assert totals.total("c", counter([])[0]) == 5000  # still remembered
