"""Business-time arithmetic: weekends, holidays, overnight windows, DST in two zones."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from steward.sla.calendar import (
    Calendar,
    CalendarError,
    add_business_time,
    business_seconds_between,
)

BERLIN, NEW_YORK = ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York")
HOUR = 3600
OFFICE = {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}


def local(zone, *args) -> datetime:
    return datetime(*args, tzinfo=zone)


def test_time_left_today_carries_to_the_next_morning():
    cal = Calendar.from_spec("Europe/Berlin", OFFICE)
    start = local(BERLIN, 2026, 3, 2, 16, 30)  # Monday
    assert add_business_time(cal, start, HOUR) == local(BERLIN, 2026, 3, 3, 9, 30)


def test_weekends_do_not_count():
    cal = Calendar.from_spec("Europe/Berlin", OFFICE)
    friday = local(BERLIN, 2026, 3, 6, 16, 0)
    assert add_business_time(cal, friday, 2 * HOUR) == local(BERLIN, 2026, 3, 9, 10, 0)
    assert business_seconds_between(cal, friday, local(BERLIN, 2026, 3, 9, 10, 0)) == 2 * HOUR


def test_holidays_are_skipped():
    cal = Calendar.from_spec("Europe/Berlin", OFFICE, holidays=[date(2026, 4, 3), date(2026, 4, 6)])
    thursday = local(BERLIN, 2026, 4, 2, 16, 0)  # Good Friday and Easter Monday follow
    assert add_business_time(cal, thursday, 2 * HOUR) == local(BERLIN, 2026, 4, 7, 10, 0)


def test_a_start_outside_hours_begins_at_the_next_opening():
    cal = Calendar.from_spec("Europe/Berlin", OFFICE)
    saturday_night = local(BERLIN, 2026, 3, 7, 23, 0)
    assert add_business_time(cal, saturday_night, 60) == local(BERLIN, 2026, 3, 9, 9, 1)


def test_several_windows_a_day():
    cal = Calendar.from_spec("UTC", {"mon": [["08:00", "12:00"], ["13:00", "17:00"]]})
    monday = datetime(2026, 3, 2, 11, 0, tzinfo=UTC)
    assert add_business_time(cal, monday, 2 * HOUR) == datetime(2026, 3, 2, 14, 0, tzinfo=UTC)


def test_an_overnight_shift_spans_midnight_seamlessly():
    cal = Calendar.from_spec(
        "Europe/Berlin", {"mon": [["22:00", "24:00"]], "tue": [["00:00", "06:00"]]}
    )
    start = local(BERLIN, 2026, 3, 2, 22, 0)
    assert add_business_time(cal, start, 3 * HOUR) == local(BERLIN, 2026, 3, 3, 1, 0)
    assert business_seconds_between(cal, start, local(BERLIN, 2026, 3, 3, 12, 0)) == 8 * HOUR


def test_berlin_spring_forward_day_has_23_hours():
    cal = Calendar.always("Europe/Berlin")
    sat_noon, sun_noon = local(BERLIN, 2026, 3, 28, 12, 0), local(BERLIN, 2026, 3, 29, 12, 0)
    assert business_seconds_between(cal, sat_noon, sun_noon) == 23 * HOUR
    assert add_business_time(cal, sat_noon, 23 * HOUR) == sun_noon


def test_berlin_window_across_the_gap_is_real_time():
    # 01:00-04:00 on the night clocks jump from 02:00 to 03:00: two real hours.
    cal = Calendar.from_spec("Europe/Berlin", {"sun": [["01:00", "04:00"]]})
    day_start = local(BERLIN, 2026, 3, 29, 0, 0)
    assert business_seconds_between(cal, day_start, day_start + timedelta(days=1)) == 2 * HOUR
    assert add_business_time(cal, day_start, 90 * 60) == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)


def test_berlin_fall_back_day_has_25_hours():
    cal = Calendar.from_spec("Europe/Berlin", {"sun": [["00:00", "24:00"]]})
    sat = local(BERLIN, 2026, 10, 24, 12, 0)
    assert business_seconds_between(cal, sat, sat + timedelta(days=2)) == 25 * HOUR


def test_new_york_office_hours_across_spring_forward():
    cal = Calendar.from_spec("America/New_York", OFFICE)
    friday = local(NEW_YORK, 2026, 3, 6, 16, 0)  # EST; DST starts Sunday 8 March
    due = add_business_time(cal, friday, 2 * HOUR)
    assert due == local(NEW_YORK, 2026, 3, 9, 10, 0)
    assert due.astimezone(UTC) == datetime(2026, 3, 9, 14, 0, tzinfo=UTC)  # EDT = UTC-4


def test_new_york_office_hours_across_fall_back():
    cal = Calendar.from_spec("America/New_York", OFFICE)
    friday = local(NEW_YORK, 2026, 10, 30, 16, 0)  # EDT; DST ends Sunday 1 November
    due = add_business_time(cal, friday, 2 * HOUR)
    assert due.astimezone(UTC) == datetime(2026, 11, 2, 15, 0, tzinfo=UTC)  # EST = UTC-5


def test_new_york_24x7_fall_back_night():
    cal = Calendar.always("America/New_York")
    a = local(NEW_YORK, 2026, 11, 1, 0, 30)
    b = local(NEW_YORK, 2026, 11, 1, 3, 30)
    assert business_seconds_between(cal, a, b) == 4 * HOUR


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York"])
def test_adding_then_measuring_round_trips(zone):
    cal = Calendar.from_spec(
        zone, {**OFFICE, "sat": [["10:00", "12:00"]], "sun": [["01:00", "03:30"]]}
    )
    rng = random.Random(7)
    start = datetime(2026, 3, 1, tzinfo=UTC)
    for _ in range(300):
        a = start + timedelta(minutes=rng.randrange(0, 60 * 24 * 330))
        seconds = rng.randrange(1, 60 * HOUR)
        due = add_business_time(cal, a, seconds)
        assert business_seconds_between(cal, a, due) == pytest.approx(seconds)


def test_zero_seconds_is_due_at_once():
    cal = Calendar.from_spec("UTC", OFFICE)
    now = datetime(2026, 3, 7, 3, 0, tzinfo=UTC)
    assert add_business_time(cal, now, 0) == now
    assert business_seconds_between(cal, now, now - timedelta(hours=1)) == 0


def test_invalid_calendars_are_refused():
    with pytest.raises(CalendarError):
        Calendar.from_spec("Mars/Olympus", OFFICE)
    with pytest.raises(CalendarError):
        Calendar.from_spec("UTC", {"mon": [["10:00", "09:00"]]})
    with pytest.raises(CalendarError):
        Calendar.from_spec("UTC", {"mon": [["09:00", "12:00"], ["11:00", "13:00"]]})
    with pytest.raises(CalendarError):
        add_business_time(Calendar("UTC", {}), datetime(2026, 1, 1, tzinfo=UTC), 60)


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="aware"):
        add_business_time(Calendar.always(), datetime(2026, 1, 1), 60)
