"""app/cron.py: 5 and 6 fields, unknown zones refused, and the two daylight-saving rules (a skipped wall time
does not fire that day; a repeated one fires once, at its first occurrence)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app import cron
from app.errors import InvalidInput


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def test_fields_zone_and_seconds() -> None:
    spec = cron.parse("*/4 * * * * *", "UTC")
    assert cron.next_runs(spec, utc(2024, 1, 1, 0, 0, 1), 3) == [
        utc(2024, 1, 1, 0, 0, 4),
        utc(2024, 1, 1, 0, 0, 8),
        utc(2024, 1, 1, 0, 0, 12),
    ]
    # A tick exactly at "after" is not after it.
    assert cron.next_after(cron.parse("0 * * * *", "UTC"), utc(2024, 1, 1, 5)) == utc(2024, 1, 1, 6)
    # In the zone: 09:00 in Berlin in winter is 08:00 UTC.
    assert cron.next_after(cron.parse("0 9 * * *", "Europe/Berlin"), utc(2024, 1, 1)) == utc(2024, 1, 1, 8)
    for expression, zone in [
        ("* * * *", "UTC"),
        ("* * * * * * *", "UTC"),
        ("61 * * * *", "UTC"),
        ("0 0 30 2 *", "UTC"),
        ("* * * * *", "Mars/Olympus"),
        ("* * * * *", "../etc/passwd"),
    ]:
        with pytest.raises(InvalidInput):
            cron.parse(expression, zone)


def test_a_wall_time_the_zone_skips_does_not_fire_that_day() -> None:
    # 2024-03-31 in Berlin: 02:00 -> 03:00. 02:30 does not exist that day.
    spec = cron.parse("30 2 * * *", "Europe/Berlin")
    assert cron.next_runs(spec, utc(2024, 3, 30, 12), 2) == [utc(2024, 4, 1, 0, 30), utc(2024, 4, 2, 0, 30)]
    assert cron.next_after(spec, utc(2024, 3, 29, 12)) == utc(2024, 3, 30, 1, 30)


def test_a_wall_time_the_zone_repeats_fires_once_at_its_first_occurrence() -> None:
    # 2024-10-27 in Berlin: 03:00 -> 02:00. 02:30 happens at 00:30 UTC and again at 01:30 UTC.
    spec = cron.parse("30 2 * * *", "Europe/Berlin")
    assert cron.next_runs(spec, utc(2024, 10, 26, 12), 2) == [utc(2024, 10, 27, 0, 30), utc(2024, 10, 28, 1, 30)]
    # From inside the repeated hour, after the first 02:30: not again at the second one.
    assert cron.next_after(spec, utc(2024, 10, 27, 0, 45)) == utc(2024, 10, 28, 1, 30)
    # Every minute through the repeated hour: each wall minute once (the hour's second pass gives none).
    minutes = cron.next_runs(cron.parse("* * * * *", "Europe/Berlin"), utc(2024, 10, 27, 0, 58, 30), 4)
    assert minutes == [
        utc(2024, 10, 27, 0, 59),
        utc(2024, 10, 27, 2, 0),
        utc(2024, 10, 27, 2, 1),
        utc(2024, 10, 27, 2, 2),
    ]


def test_ticks_due_between_count_the_missed_ones() -> None:
    spec = cron.parse("*/5 * * * * *", "UTC")
    assert cron.due_between(spec, utc(2024, 1, 1, 0, 0, 5), utc(2024, 1, 1, 0, 0, 7)) == (1, utc(2024, 1, 1, 0, 0, 5))
    assert cron.due_between(spec, utc(2024, 1, 1, 0, 0, 5), utc(2024, 1, 1, 0, 0, 21)) == (4, utc(2024, 1, 1, 0, 0, 20))
