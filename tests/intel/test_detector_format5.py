"""SingleScaleDetector state format 5: the spike view's daily memory for hours that stand out.

And the upgrade path: a state stored by format 4 (tests/fixtures/detector/) still loads,
keeps what it learned and starts the new memory empty.
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest

from steward.intel import detector as detector_module
from steward.intel.detector import SingleScaleDetector, Verdict

STEP = 300.0  # 5-minute samples
DAY = 86400.0
PER_DAY = 288
NIGHTLY = 3 * 12 + 3  # sample of the day at 03:15
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "detector"


def daily_cycle(days: int, seed: int) -> list[list[float]]:
    """A daily-cycling series (amplitude 20) with unit Gaussian noise, one sample each 5 min."""
    rng = random.Random(seed)
    return [
        [i * STEP, 50.0 + 20.0 * math.sin(2 * math.pi * i * STEP / DAY) + rng.gauss(0.0, 1.0)]
        for i in range(days * PER_DAY)
    ]


def with_nightly_spike(rows: list[list[float]], size: float = 20.0) -> list[list[float]]:
    """Add ``size`` (noise units) to the 03:15 sample of every day: a 5-minute nightly job."""
    for start in range(0, len(rows), PER_DAY):
        rows[start + NIGHTLY][1] += size
    return rows


def run_verdicts(det: SingleScaleDetector, rows: list[list[float]]) -> list[Verdict]:
    return [det.update(t, v) for t, v in rows]


def test_a_nightly_five_minute_spike_on_a_daily_cycle_stops_alarming_after_a_few_nights() -> None:
    # Format 4 had no memory for the spike view and alarmed on this spike on 30 of these 30
    # nights (and on 50-60 of 60 in bench/_nabdet4.py's measurement).
    late_nights = 0
    for seed in (1, 2, 3):
        rows = with_nightly_spike(daily_cycle(14, seed))
        verdicts = run_verdicts(SingleScaleDetector(), rows)
        alarmed = [d for d in range(14) if verdicts[d * PER_DAY + NIGHTLY].is_anomaly]
        # the spike is news at first: it alarms while the memory learns it ...
        assert any(d in alarmed for d in (1, 2, 3)), (seed, alarmed)
        # ... and is then known
        late_nights += sum(d >= 4 for d in alarmed)
    assert late_nights <= 2  # of the 30 nights from the fifth day on


def test_a_spike_at_a_new_hour_still_alarms_once_the_nightly_one_is_known() -> None:
    for seed in (1, 2, 3):
        rows = with_nightly_spike(daily_cycle(15, seed))
        new_hour = 14 * PER_DAY + 12 * 12 + 3  # 12:15 on the last day
        rows[new_hour][1] += 20.0
        verdicts = run_verdicts(SingleScaleDetector(), rows)
        assert not verdicts[14 * PER_DAY + NIGHTLY].is_anomaly
        assert verdicts[new_hour].is_anomaly


def test_in_a_spiky_series_no_hour_stands_out_and_a_larger_spike_still_alarms() -> None:
    # twelve spikes of 10-20 noise units a day at random times: every hour sees some, so no
    # hour's memory reaches SPIKE_SPECIAL times the median hour's and the memory stays unused
    for seed in range(1, 7):
        rng = random.Random(seed)
        rows = daily_cycle(21, seed)
        for day in range(20):
            for at in rng.sample(range(day * PER_DAY, (day + 1) * PER_DAY), 12):
                rows[at][1] += rng.uniform(10.0, 20.0)
        big = 20 * PER_DAY + (5 * seed % 24) * 12 + 6  # twice the largest routine spike
        rows[big][1] += 40.0
        det = SingleScaleDetector()
        verdicts = run_verdicts(det, rows)
        assert max(det.spike_daily) < det.spike_bar, seed
        assert verdicts[big].is_anomaly, seed


def test_a_format_4_state_loads_and_scores_as_format_4_did_until_its_first_midnight() -> None:
    # Written by format 4 (see tests/fixtures/detector/README.md) at 02:00 on day 6 of a
    # daily-cycling series with a nightly 03:15 spike; format 4 then alarmed on that spike.
    expected = json.loads((FIXTURES / "format4_continuation.json").read_text())
    blob = (FIXTURES / "format4_state.bin").read_bytes()
    assert blob[0] == 4
    for det in (
        SingleScaleDetector.from_bytes(blob),
        SingleScaleDetector.from_json(json.dumps(expected["state_json"])),
    ):
        assert det.count == 6 * PER_DAY + 24
        assert not any(det.spike_daily) and not any(det.spike_today)  # the new memory is empty
        verdicts = run_verdicts(det, expected["rows"])
        # the new memory has nothing to say until it has seen a day: scores are format 4's
        assert [v.score for v in verdicts] == expected["scores"]
        assert [i for i, v in enumerate(verdicts) if v.is_anomaly] == expected["anomalies"]
        assert expected["anomalies"]  # the nightly spike, at 03:15
        # stored again, it is a state of the current format (6 since the tail copies)
        again = det.to_bytes()
        assert again[0] == 6 and SingleScaleDetector.from_bytes(again).to_bytes() == again


def test_an_upgraded_format_4_state_learns_the_nightly_spike_within_a_few_days() -> None:
    det = SingleScaleDetector.from_bytes((FIXTURES / "format4_state.bin").read_bytes())
    rows = json.loads((FIXTURES / "format4_continuation.json").read_text())["rows"]
    run_verdicts(det, rows)  # the rest of day 6
    later = with_nightly_spike(daily_cycle(14, seed=4))[7 * PER_DAY :]  # days 7-13
    verdicts = run_verdicts(det, later)
    alarmed = [d for d in range(7) if verdicts[d * PER_DAY + NIGHTLY].is_anomaly]
    assert not [d for d in alarmed if d >= 2], alarmed  # quiet from day 9 on


@pytest.mark.parametrize("version", [3, 7, 99])
def test_a_state_of_an_unknown_version_is_refused(version: int) -> None:
    det = SingleScaleDetector()
    det.update(0.0, 1.0)
    for blob in (det.to_bytes(), (FIXTURES / "format4_state.bin").read_bytes()):
        bad = bytearray(blob)
        bad[0] = version
        with pytest.raises(ValueError):
            SingleScaleDetector.from_bytes(bytes(bad))
    data = det.to_dict()
    data["version"] = version
    with pytest.raises(ValueError):
        SingleScaleDetector.from_dict(data)


def test_a_truncated_or_empty_state_is_refused() -> None:
    blob = SingleScaleDetector().to_bytes()
    old = (FIXTURES / "format4_state.bin").read_bytes()
    for bad in (b"", blob[:-1], blob[: len(old)], old + b"\0\0", blob + b"\0"):
        with pytest.raises(ValueError):
            SingleScaleDetector.from_bytes(bad)


def test_the_spike_memory_round_trips_and_decides_the_same_after_a_restore() -> None:
    rows = with_nightly_spike(daily_cycle(8, seed=5))
    cut = 5 * PER_DAY + 100
    full = [v.score for v in run_verdicts(SingleScaleDetector(), rows)]
    det = SingleScaleDetector()
    run_verdicts(det, rows[:cut])
    assert det.spike_daily[3] >= det.spike_bar > 0.0  # 03:00-04:00 stands out
    for restored in (
        SingleScaleDetector.from_bytes(det.to_bytes()),
        SingleScaleDetector.from_json(det.to_json()),
    ):
        assert restored.spike_daily == det.spike_daily
        assert restored.spike_today == det.spike_today
        assert restored.spike_bar == det.spike_bar
        assert [v.score for v in run_verdicts(restored, rows[cut:])] == full[cut:]


def test_without_the_stand_out_rule_the_nightly_spike_alarms_every_night(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The spike memory is what silences the nightly spike: disable it (no hour can stand out)
    # and the detector is back to format 4's behaviour.
    monkeypatch.setattr(detector_module, "SPIKE_SPECIAL", math.inf)
    rows = with_nightly_spike(daily_cycle(14, seed=1))
    verdicts = run_verdicts(SingleScaleDetector(), rows)
    alarmed = [d for d in range(4, 14) if verdicts[d * PER_DAY + NIGHTLY].is_anomaly]
    assert len(alarmed) >= 8
