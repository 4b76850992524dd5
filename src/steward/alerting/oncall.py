"""On-call rotations: who is on call for an organization at a given instant.

A rotation hands off at a local wall-clock time (``handoff``, in ``timezone``) every
``length_days`` days, starting on ``start_date`` with the first participant. Handoffs follow
the wall clock across DST ("Monday 09:00" stays 09:00 local), which is what people expect of
a roster; the shift containing a DST change is therefore an hour shorter or longer.
Overrides (holidays, swaps) win over the schedule; the last listed override wins among
overlapping ones so an app can append corrections.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from steward.alerting._serde import Serde
from steward.alerting.errors import InvalidSchedule
from steward.alerting.silences import local_instant, parse_hhmm, zone


@dataclass(frozen=True)
class Override(Serde):
    user: str
    starts_at: float
    ends_at: float

    def __post_init__(self) -> None:
        if self.ends_at <= self.starts_at:
            raise InvalidSchedule("an override must end after it starts")


@dataclass(frozen=True)
class Rotation(Serde):
    id: str
    participants: tuple[str, ...]
    timezone: str
    start_date: str
    handoff: str = "09:00"
    length_days: int = 7
    overrides: tuple[Override, ...] = ()

    def __post_init__(self) -> None:
        zone(self.timezone)
        parse_hhmm(self.handoff)
        try:
            date.fromisoformat(self.start_date)
        except ValueError:
            raise InvalidSchedule(
                f"start_date must be YYYY-MM-DD, not {self.start_date!r}"
            ) from None
        if not self.participants or self.length_days < 1:
            raise InvalidSchedule("a rotation needs participants and length_days >= 1")


def _shift_start_day(rotation: Rotation, now: float) -> date:
    """Local date of the most recent daily handoff at or before ``now``."""
    tz = zone(rotation.timezone)
    at = parse_hhmm(rotation.handoff)
    day = datetime.fromtimestamp(now, tz).date()
    if now < local_instant(day, at, tz):
        day -= timedelta(days=1)
    return day


def who_is_on_call(rotation: Rotation, now: float) -> str | None:
    """The participant on call at ``now`` (None before the rotation starts)."""
    for override in reversed(rotation.overrides):
        if override.starts_at <= now < override.ends_at:
            return override.user
    days = (_shift_start_day(rotation, now) - date.fromisoformat(rotation.start_date)).days
    if days < 0:
        return None
    index = (days // rotation.length_days) % len(rotation.participants)
    return rotation.participants[index]


def next_handoff(rotation: Rotation, now: float) -> float:
    """POSIX time of the next scheduled handoff after ``now`` (overrides not considered)."""
    start = date.fromisoformat(rotation.start_date)
    day = _shift_start_day(rotation, now)
    days = (day - start).days
    ahead = rotation.length_days - (days % rotation.length_days) if days >= 0 else -days
    tz = zone(rotation.timezone)
    return local_instant(day + timedelta(days=ahead), parse_hhmm(rotation.handoff), tz)
