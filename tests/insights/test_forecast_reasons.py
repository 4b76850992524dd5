"""The one-sentence reasons stored with forecasts (steward.insights.forecasting._reason)."""

from __future__ import annotations

from steward.insights.forecasting import _reason
from steward.insights.models import ResourceKind
from steward.intel import ForecastStatus, time_to_threshold

DAY = 86400.0
GIB = 2.0**30


def test_two_clean_ups_are_not_reported_as_two_points() -> None:
    # Free space of a disk cleaned up twice in three days: the forecaster waits for a third
    # cycle and counts clean-ups (not samples) in points_used.
    ts = [i * 600.0 for i in range(432)]
    free = [50 * GIB - (t % (1.2 * DAY)) / DAY * 10 * GIB for t in ts]
    fc = time_to_threshold(ts, free, 0.0, confidence=0.8, direction=-1)
    assert (fc.status, fc.model, fc.points_used) == (
        ForecastStatus.INSUFFICIENT_DATA, "cycle peaks", 2,
    )  # fmt: skip
    text = _reason(ResourceKind.FILESYSTEM, "filesystem /var", fc, free[-1], 100 * GIB)
    assert text == (
        "2 clean-ups in the last 3 days; a trend of the levels before each clean-up needs 3"
    )


def test_one_point_is_singular() -> None:
    fc = time_to_threshold([0.0], [5.0], 0.0, direction=-1)
    text = _reason(ResourceKind.MEMORY, "memory", fc, 5.0, 10.0)
    assert text == "1 point since the last clean-up or step; a forecast needs more"
