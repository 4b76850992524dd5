"""Business-hour calendars in a time zone, and business-time arithmetic over UTC instants.

A calendar is a set of weekly wall-clock windows (several per day allowed; a day may end at
24:00) in an IANA time zone, minus holidays (local dates). Business time is *real elapsed
time* inside those windows: the window 00:00-24:00 on the day clocks spring forward lasts
23 hours, on the day they fall back 25 hours. Wall-clock times that do not exist (02:30 on a
spring-forward night in Europe/Berlin) resolve like ``zoneinfo`` does with ``fold=0``: with
the offset in force before the transition, i.e. to the instant the gap ends.

Overnight shifts are two windows (Mon 22:00-24:00 and Tue 00:00-06:00); adjacent windows
join seamlessly because the arithmetic walks windows as UTC intervals.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DAY = 86_400
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# A calendar with no business window for this many days in a row is a configuration error,
# not a reason to loop for ever.
MAX_EMPTY_DAYS = 3 * 366


class CalendarError(ValueError):
    """The calendar definition is invalid or has no business time at all."""


Window = tuple[int, int]  # seconds since local midnight, [start, end), end <= 86400


def parse_hhmm(value: str) -> int:
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", value.strip())
    if not match:
        raise CalendarError(f"{value!r}: expected HH:MM")
    hours, minutes = int(match[1]), int(match[2])
    if minutes > 59 or hours > 24 or (hours == 24 and minutes):
        raise CalendarError(f"{value!r}: not a time of day (00:00-24:00)")
    return hours * 3600 + minutes * 60


@dataclass(frozen=True)
class Calendar:
    """Weekly business windows in ``timezone`` (0 = Monday), minus ``holidays``."""

    timezone: str = "UTC"
    weekly: Mapping[int, tuple[Window, ...]] = field(default_factory=dict)
    holidays: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (KeyError, ValueError) as exc:
            raise CalendarError(f"unknown time zone {self.timezone!r}") from exc
        for day, windows in self.weekly.items():
            if day not in range(7):
                raise CalendarError(f"weekday {day}: expected 0 (Monday) to 6 (Sunday)")
            previous_end = 0
            for start, end in sorted(windows):
                if not 0 <= start < end <= DAY:
                    raise CalendarError(f"{WEEKDAYS[day]}: window {start}-{end} is empty")
                if start < previous_end:
                    raise CalendarError(f"{WEEKDAYS[day]}: windows overlap")
                previous_end = end

    @classmethod
    def always(cls, timezone: str = "UTC") -> Calendar:
        """24 x 7, no holidays."""
        return cls(timezone, {day: ((0, DAY),) for day in range(7)})

    @classmethod
    def from_spec(
        cls, timezone: str, weekly: Mapping[str, Iterable[Iterable[str]]], holidays=()
    ) -> Calendar:
        """Build from JSON-friendly data: ``{"mon": [["09:00", "12:00"], ...], ...}``."""
        days: dict[int, tuple[Window, ...]] = {}
        for name, windows in weekly.items():
            key = name.strip().lower()[:3]
            if key not in WEEKDAYS:
                raise CalendarError(f"{name!r}: expected a weekday (mon..sun)")
            parsed = []
            for window in windows:
                start, end = list(window)
                parsed.append((parse_hhmm(start), parse_hhmm(end)))
            days[WEEKDAYS.index(key)] = tuple(sorted(parsed))
        return cls(timezone, days, frozenset(holidays))

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def has_business_time(self) -> bool:
        return any(self.weekly.get(day) for day in range(7))


def _local_instant(day: date, seconds: int, zone: ZoneInfo) -> datetime:
    """The UTC instant of wall-clock ``seconds`` after local midnight of ``day``."""
    if seconds >= DAY:  # 24:00 is the next day's midnight
        day, seconds = day + timedelta(days=1), seconds - DAY
    wall = datetime.combine(day, time(seconds // 3600, seconds % 3600 // 60, seconds % 60))
    # fold=0 in a gap gives the pre-transition offset, which lands after the gap in UTC.
    return wall.replace(tzinfo=zone).astimezone(UTC)


def windows(calendar: Calendar, since: datetime) -> Iterator[tuple[datetime, datetime]]:
    """Business windows as ordered, non-overlapping UTC intervals ending after ``since``."""
    if not calendar.has_business_time:
        raise CalendarError("the calendar has no business hours")
    zone = calendar.zone
    day = since.astimezone(zone).date() - timedelta(days=1)
    last_end = since
    empty_days = 0
    while True:
        found = False
        if day not in calendar.holidays:
            for start, end in calendar.weekly.get(day.weekday(), ()):
                begin = max(_local_instant(day, start, zone), last_end)
                finish = _local_instant(day, end, zone)
                if finish > begin:
                    found = True
                    last_end = finish
                    yield begin, finish
        empty_days = 0 if found else empty_days + 1
        if empty_days > MAX_EMPTY_DAYS:
            raise CalendarError("no business hours within three years (all holidays?)")
        day += timedelta(days=1)


def _require_aware(*values: datetime) -> None:
    for value in values:
        if value.tzinfo is None:
            raise ValueError("business-time arithmetic needs time-zone-aware datetimes")


def add_business_time(calendar: Calendar, start: datetime, seconds: float) -> datetime:
    """The instant (UTC) when ``seconds`` of business time have passed since ``start``.

    ``seconds <= 0`` returns ``start`` unchanged: the deadline is already due.
    """
    _require_aware(start)
    start = start.astimezone(UTC)
    if seconds <= 0:
        return start
    remaining = float(seconds)
    for begin, finish in windows(calendar, start):
        available = (finish - begin).total_seconds()
        if remaining <= available:
            return begin + timedelta(seconds=remaining)
        remaining -= available
    raise AssertionError("unreachable: windows() never ends")  # pragma: no cover


def business_seconds_between(calendar: Calendar, a: datetime, b: datetime) -> float:
    """Business seconds in ``[a, b)``; zero when ``b <= a``."""
    _require_aware(a, b)
    a, b = a.astimezone(UTC), b.astimezone(UTC)
    if b <= a:
        return 0.0
    total = 0.0
    for begin, finish in windows(calendar, a):
        if begin >= b:
            break
        total += (min(finish, b) - begin).total_seconds()
    return total
