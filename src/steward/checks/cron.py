"""A five-field cron expression evaluator, time-zone aware and DST-correct.

Syntax (Vixie cron, crontab(5)): ``minute hour day-of-month month day-of-week``; each
field a ``,`` list of ``*``, ``N``, ``N-M``, each optionally ``/step``; month and weekday
names (``JAN``, ``MON``, case-insensitive, also inside ranges); weekday 0 and 7 are
Sunday; the macros ``@yearly @annually @monthly @weekly @daily @midnight @hourly``.
When both day fields are restricted a day matches if *either* matches (crontab(5)).

Daylight saving time, as crontab(5)/cronie describe it: a job at a *specific* time (no
``*`` in the minute or hour field) that falls into the hour skipped in spring runs at the
moment the clock jumps; in the hour repeated in autumn it runs once, at the first
occurrence. Jobs that run more often (``*`` in minute or hour) follow the wall clock: the
skipped times do not exist and the repeated ones happen twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_FIELDS = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, {name: i + 1 for i, name in enumerate(_MONTHS)}),
    ("day of week", 0, 7, {name: i for i, name in enumerate(_DAYS)}),
)
_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
#: Search horizon for the next match: a 29 February job on a Monday needs up to 28 years.
_MAX_DAYS = 366 * 29


class CronError(ValueError):
    """The expression is invalid, or can never match (``0 0 30 2 *``)."""


def _parse_field(text: str, index: int) -> frozenset[int]:
    label, lo, hi, names = _FIELDS[index]

    def number(token: str) -> int:
        value = names.get(token.upper()) if not token.isdigit() else int(token)
        if value is None:
            raise CronError(f"{label}: {token!r} is not a number or name")
        if not lo <= value <= hi:
            raise CronError(f"{label}: {value} is outside {lo}-{hi}")
        return value

    values: set[int] = set()
    for item in text.split(","):
        body, slash, step_text = item.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) == 0:
                raise CronError(f"{label}: step {step_text!r} must be a positive number")
            step = int(step_text)
        if body == "*":
            start, end = lo, hi
        elif "-" in body:
            a, _, b = body.partition("-")
            start, end = number(a), number(b)
            if start > end:
                raise CronError(f"{label}: range {body!r} runs backwards")
        elif body:
            start = number(body)
            end = hi if slash else start  # "5/15" means 5-59/15, as in cronie
        else:
            raise CronError(f"{label}: empty item in {text!r}")
        values.update(range(start, end + 1, step))
    if index == 4 and 7 in values:  # 7 is Sunday too
        values.discard(7)
        values.add(0)
    return frozenset(values)


@dataclass(frozen=True, slots=True)
class CronExpression:
    """A parsed expression; ``next_after`` gives the next firing instant."""

    text: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    day_star: bool
    weekday_star: bool
    frequent: bool  # "*" in minute or hour: follows the wall clock through DST changes

    @classmethod
    def parse(cls, text: str) -> CronExpression:
        expanded = _MACROS.get(text.strip().lower(), text)
        fields = expanded.split()
        if len(fields) != 5:
            raise CronError(f"expected 5 fields (minute hour day month weekday), got {len(fields)}")
        parsed = [_parse_field(field, i) for i, field in enumerate(fields)]
        expr = cls(
            text=text.strip(),
            minutes=parsed[0],
            hours=parsed[1],
            days=parsed[2],
            months=parsed[3],
            weekdays=parsed[4],
            day_star=fields[2].startswith("*"),
            weekday_star=fields[4].startswith("*"),
            frequent=fields[0].startswith("*") or fields[1].startswith("*"),
        )
        if expr.weekday_star and not _possible(expr):
            raise CronError(f"{text!r} can never match (no such day in the chosen months)")
        return expr

    def matches_day(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        dom = day.day in self.days
        dow = (day.isoweekday() % 7) in self.weekdays
        if self.day_star or self.weekday_star:
            return dom and dow
        return dom or dow

    def next_after(self, after: datetime, tz: tzinfo) -> datetime:
        """The first firing instant strictly after ``after`` (aware), in zone ``tz``."""
        if after.tzinfo is None:
            raise ValueError("after must be timezone-aware")
        day = after.astimezone(tz).date() - timedelta(days=1)  # a jump may cross midnight
        for _ in range(_MAX_DAYS):
            if self.matches_day(day):
                for instant in self._instants(day, tz):
                    if instant > after:
                        return instant.astimezone(tz)
            day += timedelta(days=1)
        raise CronError(f"{self.text!r} does not fire within {_MAX_DAYS} days")

    def _instants(self, day: date, tz: tzinfo) -> list[datetime]:
        """The UTC instants at which the expression fires on local date ``day``."""
        out: set[datetime] = set()
        for hour in sorted(self.hours):
            for minute in sorted(self.minutes):
                naive = datetime.combine(day, time(hour, minute))
                first = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
                second = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
                if first == second:
                    out.add(first)
                elif _exists(first, naive, tz):  # repeated hour: first is the earlier one
                    out.add(first)
                    if self.frequent:
                        out.add(second)
                elif not self.frequent:  # skipped hour: run when the clock jumps
                    out.add(_jump_instant(second, naive, tz))
        return sorted(out)


def _exists(instant: datetime, naive: datetime, tz: tzinfo) -> bool:
    return instant.astimezone(tz).replace(tzinfo=None) == naive


def _jump_instant(before: datetime, naive: datetime, tz: tzinfo) -> datetime:
    """The instant the clock jumps over ``naive``. ``before`` (the gap time read with the
    post-transition offset, PEP 495 fold=1) lies before the jump; step to the first minute
    whose local time is past ``naive``."""
    instant = before.replace(second=0, microsecond=0)
    for _ in range(24 * 60):
        if instant.astimezone(tz).replace(tzinfo=None) > naive:
            return instant
        instant += timedelta(minutes=1)
    return before  # pragma: no cover - no zone skips more than a day


def _possible(expr: CronExpression) -> bool:
    longest = {1: 31, 2: 29, 3: 31, 4: 30, 5: 31, 6: 30, 7: 31, 8: 31, 9: 30, 10: 31, 11: 30}
    return any(min(expr.days) <= longest.get(m, 31) for m in expr.months)
