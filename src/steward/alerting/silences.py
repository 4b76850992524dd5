"""Silences (one-off, by label matchers) and recurring maintenance windows.

A silence hides matching alerts between two instants; it does not stop evaluation, so when it
expires an alert that is still firing notifies then (nothing is missed). Maintenance windows
are weekly wall-clock slots in a named time zone ("Sundays 01:00-05:00 Europe/Berlin").

DST: slot bounds are local wall-clock times turned into instants with :mod:`zoneinfo` for
each date, so "01:00-05:00" is 4 hours most Sundays and 3 hours on the spring-forward Sunday.
A bound that falls in the spring-forward gap (02:30 that does not exist) is read with the
offset in force before the gap, i.e. it moves forward by the gap (02:30 -> 03:30), as cron
does; an ambiguous bound in the autumn overlap takes the first occurrence (``fold=0``).
Instants are compared as POSIX timestamps, never as aware datetimes: Python compares two
datetimes sharing a tzinfo by wall time, which is wrong across a fold.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from steward.alerting._serde import Serde
from steward.alerting.errors import InvalidSchedule
from steward.alerting.labels import Labels, Matcher, matches_all

_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def parse_hhmm(text: str) -> time:
    m = _HHMM.match(text)
    if not m:
        raise InvalidSchedule(f"expected HH:MM, got {text!r}")
    return time(int(m.group(1)), int(m.group(2)))


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidSchedule(f"unknown time zone {name!r}") from None


def local_instant(day: date, at: time, tz: ZoneInfo) -> float:
    """POSIX time of wall-clock ``day at`` in ``tz`` (gap: shifted forward; overlap: first)."""
    return datetime.combine(day, at, tzinfo=tz).timestamp()


@dataclass(frozen=True)
class Silence(Serde):
    id: str
    matchers: tuple[Matcher, ...]
    starts_at: float
    ends_at: float
    author: str
    reason: str = ""

    def __post_init__(self) -> None:
        if not self.matchers:
            raise InvalidSchedule("a silence needs at least one matcher")
        if self.ends_at <= self.starts_at:
            raise InvalidSchedule("a silence must end after it starts")

    def silences(self, labels: Labels, now: float) -> bool:
        return self.starts_at <= now < self.ends_at and matches_all(self.matchers, labels)


@dataclass(frozen=True)
class WeeklySlot(Serde):
    """``days`` are ISO-like weekday numbers as in :meth:`date.weekday` (0 = Monday).
    ``end <= start`` means the slot ends the next day (e.g. 22:00-02:00)."""

    days: tuple[int, ...]
    start: str
    end: str

    def __post_init__(self) -> None:
        parse_hhmm(self.start)
        parse_hhmm(self.end)
        if not self.days or any(d not in range(7) for d in self.days):
            raise InvalidSchedule("days must be weekday numbers 0 (Monday) to 6 (Sunday)")

    def occurrence(self, day: date, tz: ZoneInfo) -> tuple[float, float]:
        """The slot's [start, end) as POSIX times for the occurrence starting on ``day``."""
        start, end = parse_hhmm(self.start), parse_hhmm(self.end)
        end_day = day if end > start else day + timedelta(days=1)
        return local_instant(day, start, tz), local_instant(end_day, end, tz)

    def contains(self, now: float, tz: ZoneInfo) -> bool:
        today = datetime.fromtimestamp(now, tz).date()
        for day in (today, today - timedelta(days=1)):
            if day.weekday() in self.days:
                begin, end = self.occurrence(day, tz)
                if begin <= now < end:
                    return True
        return False


@dataclass(frozen=True)
class MaintenanceWindow(Serde):
    """Recurring weekly maintenance for the alerts matching ``matchers`` (a site, a device,
    a tag: see :func:`steward.alerting.labels.scope`)."""

    id: str
    matchers: tuple[Matcher, ...]
    timezone: str
    slots: tuple[WeeklySlot, ...]
    name: str = ""
    author: str = ""
    valid_from: float | None = None
    valid_until: float | None = None

    def __post_init__(self) -> None:
        zone(self.timezone)
        if not self.slots:
            raise InvalidSchedule("a maintenance window needs at least one slot")

    def active(self, now: float) -> bool:
        if self.valid_from is not None and now < self.valid_from:
            return False
        if self.valid_until is not None and now >= self.valid_until:
            return False
        tz = zone(self.timezone)
        return any(slot.contains(now, tz) for slot in self.slots)

    def silences(self, labels: Labels, now: float) -> bool:
        return matches_all(self.matchers, labels) and self.active(now)


def is_silenced(
    labels: Labels,
    now: float,
    silences: Iterable[Silence] = (),
    windows: Iterable[MaintenanceWindow] = (),
) -> Silence | MaintenanceWindow | None:
    """The first silence or maintenance window hiding ``labels`` at ``now``, else None."""
    for silence in silences:
        if silence.silences(labels, now):
            return silence
    for window in windows:
        if window.silences(labels, now):
            return window
    return None


def next_change(
    now: float, silences: Iterable[Silence] = (), windows: Iterable[MaintenanceWindow] = ()
) -> float | None:
    """The earliest instant after ``now`` at which a silence or a maintenance window starts
    or ends (None: none ever will), so a caller can sleep until then instead of polling."""
    times: list[float] = []
    for silence in silences:
        times.extend(t for t in (silence.starts_at, silence.ends_at) if t > now)
    for window in windows:
        bounds = (window.valid_from, window.valid_until)
        times.extend(t for t in bounds if t is not None and t > now)
        if window.valid_until is not None and window.valid_until <= now:
            continue  # over for good
        tz = zone(window.timezone)
        today = datetime.fromtimestamp(now, tz).date()
        # Yesterday's occurrence may still be running; a week ahead holds every weekday.
        for offset in range(-1, 8):
            day = today + timedelta(days=offset)
            for slot in window.slots:
                if day.weekday() in slot.days:
                    times.extend(t for t in slot.occurrence(day, tz) if t > now)
    return min(times) if times else None
