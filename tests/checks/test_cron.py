"""The cron evaluator: syntax, day-matching rules and DST behaviour, against known dates."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from steward.checks.cron import CronError, CronExpression

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo("UTC"))  # type: ignore[misc]


def nexts(expr: str, after: datetime, n: int = 3) -> list[str]:
    """The next ``n`` firings (as UTC text), evaluated in the time zone of ``after``."""
    tz = after.tzinfo
    assert isinstance(tz, ZoneInfo)
    cron = CronExpression.parse(expr)
    out = []
    for _ in range(n):
        after = cron.next_after(after, tz)
        out.append(after.astimezone(UTC).strftime("%Y-%m-%d %H:%M"))
    return out


def test_steps_ranges_and_lists() -> None:
    assert nexts("*/20 9-10 * * *", utc(2024, 1, 1, 9, 50)) == [
        "2024-01-01 10:00",
        "2024-01-01 10:20",
        "2024-01-01 10:40",
    ]
    assert nexts("5,35 8-18/5 * * *", utc(2024, 1, 1), n=4) == [
        "2024-01-01 08:05",
        "2024-01-01 08:35",
        "2024-01-01 13:05",
        "2024-01-01 13:35",
    ]


def test_month_and_weekday_names_and_sunday_as_seven() -> None:
    # 2024-01-01 is a Monday.
    assert nexts("0 12 * jan-feb MON-fri", utc(2024, 1, 5, 13), n=2) == [
        "2024-01-08 12:00",
        "2024-01-09 12:00",
    ]
    assert nexts("0 0 * * 7", utc(2024, 1, 1), n=1) == nexts("0 0 * * SUN", utc(2024, 1, 1), n=1)


def test_restricted_day_of_month_or_weekday_match_either() -> None:
    # crontab(5): "30 4 1,15 * 5" runs on the 1st, the 15th and every Friday.
    assert nexts("30 4 1,15 * 5", utc(2024, 3, 1, 5), n=3) == [
        "2024-03-08 04:30",
        "2024-03-15 04:30",
        "2024-03-22 04:30",
    ]


def test_macros_and_leap_day() -> None:
    assert nexts("@hourly", utc(2024, 1, 1, 0, 1), n=1) == ["2024-01-01 01:00"]
    assert nexts("0 0 29 2 *", utc(2024, 3, 1), n=1) == ["2028-02-29 00:00"]


@pytest.mark.parametrize(
    ("expr", "error"),
    [
        ("* * * *", "expected 5 fields"),
        ("60 * * * *", "minute: 60 is outside 0-59"),
        ("* 5-2 * * *", "hour: range '5-2' runs backwards"),
        ("*/0 * * * *", "minute: step '0' must be a positive number"),
        ("* * * foo *", "month: 'foo' is not a number or name"),
        ("0 0 30 2 *", "can never match"),
    ],
)
def test_invalid_expressions_explain_themselves(expr: str, error: str) -> None:
    with pytest.raises(CronError, match=error):
        CronExpression.parse(expr)


# Europe/Berlin: 2024-03-31 02:00 CET -> 03:00 CEST; 2024-10-27 03:00 CEST -> 02:00 CET.


def test_spring_forward_fixed_time_job_runs_when_the_clock_jumps() -> None:
    assert nexts("30 2 * * *", datetime(2024, 3, 30, 3, 0, tzinfo=BERLIN)) == [
        "2024-03-31 01:00",  # 03:00 CEST, the moment 02:00 became 03:00
        "2024-04-01 00:30",  # 02:30 CEST
        "2024-04-02 00:30",
    ]


def test_spring_forward_frequent_job_skips_the_missing_hour() -> None:
    assert nexts("*/30 * * * *", datetime(2024, 3, 31, 1, 30, tzinfo=BERLIN)) == [
        "2024-03-31 01:00",  # 03:00 CEST; 02:00 and 02:30 never existed
        "2024-03-31 01:30",
        "2024-03-31 02:00",
    ]


def test_fall_back_fixed_time_job_runs_once() -> None:
    assert nexts("30 2 * * *", datetime(2024, 10, 27, 0, 0, tzinfo=BERLIN), n=2) == [
        "2024-10-27 00:30",  # 02:30 CEST, the first of the two
        "2024-10-28 01:30",  # next day, 02:30 CET
    ]


def test_fall_back_frequent_job_runs_in_both_repeated_hours() -> None:
    assert nexts("30 * * * *", datetime(2024, 10, 27, 1, 45, tzinfo=BERLIN)) == [
        "2024-10-27 00:30",  # 02:30 CEST
        "2024-10-27 01:30",  # 02:30 CET
        "2024-10-27 02:30",  # 03:30 CET
    ]


def test_daily_job_keeps_wall_clock_time_across_dst() -> None:
    assert nexts("0 9 * * *", datetime(2024, 3, 9, 10, 0, tzinfo=NEW_YORK), n=2) == [
        "2024-03-10 13:00",  # 09:00 EDT (the day DST starts in the US)
        "2024-03-11 13:00",
    ]
    assert nexts("0 9 * * *", datetime(2024, 3, 8, 10, 0, tzinfo=NEW_YORK), n=1) == [
        "2024-03-09 14:00"  # 09:00 EST
    ]
