"""The one polling helper of the tests: returns what it waited for, and a timeout says what and what was seen."""

from __future__ import annotations

import itertools

import pytest

from tests.harness.wait import wait_until, wait_until_async


def test_returns_the_first_truthy_value() -> None:
    values = iter([0, None, "", "ready", "later"])
    assert wait_until(lambda: next(values), 5, "a value", interval=0) == "ready"


def test_done_decides_and_the_value_is_returned_whole() -> None:
    counter = itertools.count()
    assert wait_until(lambda: {"n": next(counter)}, 5, "n to reach 3", interval=0, done=lambda v: v["n"] >= 3) == {
        "n": 3
    }


def test_a_timeout_names_what_was_awaited_and_the_last_value() -> None:
    counter = itertools.count()
    with pytest.raises(AssertionError, match=r"timed out after 0\.05 s waiting for the moon; last seen: \{'n': \d+\}"):
        wait_until(lambda: {"n": next(counter)}, 0.05, "the moon", interval=0.01, done=lambda v: False)


def test_the_condition_is_asked_once_even_with_no_time_left() -> None:
    assert wait_until(lambda: "now", -1, "anything") == "now"


def test_a_long_last_value_is_shortened() -> None:
    with pytest.raises(AssertionError) as failure:
        wait_until(lambda: "x" * 10_000, 0, "nothing", done=lambda v: False)
    assert len(str(failure.value)) < 4200 and "(10002 characters)" in str(failure.value)


def test_an_exception_of_the_condition_ends_the_wait() -> None:
    def exited() -> bool:
        raise RuntimeError("the process exited")

    with pytest.raises(RuntimeError, match="exited"):
        wait_until(exited, 60, "a process")


async def test_the_async_flavour_awaits_the_condition() -> None:
    counter = itertools.count()

    async def read() -> int:
        return next(counter)

    assert await wait_until_async(read, 5, "2", interval=0, done=lambda n: n == 2) == 2
    with pytest.raises(AssertionError, match="waiting for never; last seen: "):
        await wait_until_async(read, 0.05, "never", interval=0.01, done=lambda n: False)
