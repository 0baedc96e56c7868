"""Cron expressions in a time zone: pure time arithmetic (croniter for the fields, zoneinfo for the zone).

An expression has 5 fields (minute hour day-of-month month day-of-week), or 6 with a leading seconds field (an
extension, as Quartz and Spring write it). Ticks are wall times of the schedule's zone turned into UTC instants:

- a wall time that does not exist (the hour skipped when clocks go forward) is skipped: no tick that day;
- a wall time that happens twice (the hour repeated when clocks go back) fires once, at its first occurrence.

docs/orchestration.md ("Schedules") says so to users; tests/unit/test_cron.py holds each rule.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterError, croniter

from app.errors import InvalidInput

MAX_EXPRESSION: Final = 120
# Steps taken to find one tick: the skipped wall times of a repeated hour of an every-second expression are 3,600;
# an expression that never matches (February 30th) stops here instead of looping.
_MAX_STEPS: Final = 100_000


@dataclass(frozen=True)
class CronSpec:
    expression: str
    timezone: str

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def has_seconds(self) -> bool:
        return len(self.expression.split()) == 6


def parse_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput(f"timezone: unknown time zone {name!r} (an IANA name such as Europe/Berlin)") from exc


def parse(expression: str, timezone: str) -> CronSpec:
    """Checked: 5 or 6 fields croniter accepts, a known IANA zone, and at least one tick to come."""
    fields = expression.split()
    if len(expression) > MAX_EXPRESSION or len(fields) not in (5, 6):
        raise InvalidInput("cron: 5 fields (minute hour day month weekday), or 6 with seconds first")
    normal = " ".join(fields)
    if not croniter.is_valid(normal, second_at_beginning=len(fields) == 6):
        raise InvalidInput(f"cron: {expression!r} is not a valid cron expression")
    parse_zone(timezone)
    spec = CronSpec(normal, timezone)
    try:
        next_after(spec, datetime(2000, 1, 1, tzinfo=UTC))
    except InvalidInput as exc:
        raise InvalidInput(f"cron: {expression!r} never fires") from exc
    return spec


def _instant(wall: datetime, zone: ZoneInfo) -> datetime | None:
    """A naive wall time of ``zone`` as a UTC instant: None if the zone skips it; its first occurrence if the zone
    repeats it (fold 0)."""
    aware = wall.replace(tzinfo=zone, fold=0)
    instant = aware.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) != wall:
        return None
    return instant


def ticks_after(spec: CronSpec, after: datetime) -> Iterator[datetime]:
    """The UTC instants of the ticks strictly after ``after`` (aware), in order."""
    zone = spec.zone
    # One second back: croniter starts after its start, and a tick at ``after`` itself is not after it.
    wall = after.astimezone(zone).replace(tzinfo=None, microsecond=0)
    walls = croniter(spec.expression, wall - timedelta(seconds=1), second_at_beginning=spec.has_seconds)
    steps = 0
    last = after
    while True:
        try:
            candidate = walls.get_next(datetime)
        except CroniterError as exc:
            raise InvalidInput(f"cron: {spec.expression!r} has no next tick") from exc
        steps += 1
        instant = _instant(candidate, zone)
        if instant is not None and instant > last:
            steps = 0
            last = instant
            yield instant
        elif steps > _MAX_STEPS:
            raise InvalidInput(f"cron: {spec.expression!r} has no next tick")


def next_after(spec: CronSpec, after: datetime) -> datetime:
    return next(ticks_after(spec, after))


def next_runs(spec: CronSpec, after: datetime, count: int) -> list[datetime]:
    found: list[datetime] = []
    for instant in ticks_after(spec, after):
        found.append(instant)
        if len(found) == count:
            break
    return found


def due_between(spec: CronSpec, first: datetime, now: datetime) -> tuple[int, datetime]:
    """The ticks from ``first`` (itself a tick) up to ``now`` included: how many, and the last of them. Counting
    stops at 1,000 (a long downtime of an every-second schedule need not be walked through)."""
    count, last = 1, first
    for instant in ticks_after(spec, first):
        if instant > now or count >= 1000:
            break
        count, last = count + 1, instant
    return count, last
