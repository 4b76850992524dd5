"""StreamDetector: causal, bounded, serialisable, and it finds what it should."""

from __future__ import annotations

import math
import random

import pytest

from steward.intel import PATTERNS, StreamDetector, Verdict

STEP = 300.0  # 5-minute samples
DAY = 86400.0


def seasonal(n: int, seed: int = 1) -> list[tuple[float, float]]:
    rng = random.Random(seed)
    return [
        (i * STEP, 50.0 + 20.0 * math.sin(2 * math.pi * i * STEP / DAY) + rng.gauss(0.0, 1.0))
        for i in range(n)
    ]


def run(det: StreamDetector, rows: list[tuple[float, float]]) -> list[float]:
    return [det.update(t, v).score for t, v in rows]


def run_verdicts(det: StreamDetector, rows: list[tuple[float, float]]) -> list[Verdict]:
    return [det.update(t, v) for t, v in rows]


def test_state_round_trips_through_bytes_and_json_with_identical_scores() -> None:
    rows = seasonal(3000)
    reference = StreamDetector()
    head = run(reference, rows[:1500])
    tail = run(reference, rows[1500:])
    for codec in ("bytes", "json"):
        det = StreamDetector()
        assert run(det, rows[:1500]) == head
        if codec == "bytes":
            restored = StreamDetector.from_bytes(det.to_bytes())
        else:
            restored = StreamDetector.from_json(det.to_json())
        assert run(restored, rows[1500:]) == tail


def test_state_is_small() -> None:
    det = StreamDetector()
    run(det, seasonal(2000))
    assert len(det.to_bytes()) < 4400  # 4164 bytes since format 8 (two scales, a weekly view)
    assert len(det.to_json()) < 16384


def test_score_at_i_never_changes_when_later_samples_are_appended() -> None:
    rows = seasonal(1200)
    rows[900] = (rows[900][0], 200.0)
    full = run(StreamDetector(), rows)
    for cut in (300, 899, 901, 1100):
        assert run(StreamDetector(), rows[:cut]) == full[:cut]


def test_scores_are_in_unit_interval_even_on_awkward_input() -> None:
    rng = random.Random(7)
    rows = [(i * 60.0, 0.0) for i in range(300)]  # flatline
    rows += [(i * 60.0, rng.choice([0.0, 1e9, -1e9, 1e-9])) for i in range(300, 600)]
    scores = run(StreamDetector(), rows)
    assert all(0.0 <= s <= 1.0 for s in scores)


def test_a_clear_spike_on_a_seasonal_series_scores_high_and_normal_data_low() -> None:
    rows = seasonal(4 * 288)
    spike_at = 3 * 288 + 100
    rows[spike_at] = (rows[spike_at][0], rows[spike_at][1] + 40.0)
    det = StreamDetector()
    verdicts = [det.update(t, v) for t, v in rows]
    spike = verdicts[spike_at]
    assert spike.score > 0.8
    assert spike.is_anomaly
    assert spike.pattern == "spike above expected band"
    assert spike.expected_high < spike.observed
    assert spike.pattern in PATTERNS
    normal = [v.score for v in verdicts[2 * 288 : spike_at]]
    assert sum(s >= 0.5 for s in normal) <= 2
    assert sorted(normal)[len(normal) // 2] < 0.2


def test_one_level_shift_is_flagged_once_not_on_every_sample() -> None:
    rng = random.Random(3)
    rows = [(i * STEP, (10.0 if i < 1500 else 30.0) + rng.gauss(0.0, 1.0)) for i in range(2000)]
    det = StreamDetector()
    verdicts = [det.update(t, v) for t, v in rows]
    alarms = [i for i, v in enumerate(verdicts) if v.is_anomaly]
    after = [i for i in alarms if i >= 1500]
    assert after and after[0] <= 1502  # flagged at the onset
    assert len(after) <= 3  # and not on every sample of the new level
    assert len(alarms) - len(after) <= 3  # few false alarms on plain noise before it


def test_non_finite_values_are_rejected() -> None:
    with pytest.raises(ValueError):
        StreamDetector().update(0.0, math.nan)


def test_a_state_of_another_version_is_refused() -> None:
    blob = bytearray(StreamDetector().to_bytes())
    blob[0] = 99
    with pytest.raises(ValueError):
        StreamDetector.from_bytes(bytes(blob))


def test_an_episode_is_damped_until_the_series_calms_down_then_the_detector_rearms() -> None:
    rng = random.Random(5)
    rows = [(i * STEP, 10.0 + rng.gauss(0.0, 1.0)) for i in range(3000)]
    for at in (2000, 2001, 2002, 2600):  # a three-sample burst, then a lone spike much later
        rows[at] = (rows[at][0], rows[at][1] + 40.0)
    det = StreamDetector()
    verdicts = [det.update(t, v) for t, v in rows]
    assert verdicts[2000].is_anomaly and verdicts[2000].score > 0.5
    assert not verdicts[2001].is_anomaly and verdicts[2001].score < 0.25  # same episode
    assert not verdicts[2002].is_anomaly and verdicts[2002].score < 0.25
    assert verdicts[2600].is_anomaly and verdicts[2600].score > 0.5  # calm since: re-armed


def test_an_in_progress_episode_survives_a_state_round_trip() -> None:
    rng = random.Random(6)
    rows = [(i * STEP, 10.0 + rng.gauss(0.0, 1.0)) for i in range(1200)]
    rows[1000] = (rows[1000][0], 60.0)
    rows[1001] = (rows[1001][0], 60.0)
    det = StreamDetector()
    run(det, rows[:1001])
    restored = StreamDetector.from_bytes(det.to_bytes())
    assert run(restored, rows[1001:]) == run(det, rows[1001:])


def test_a_spike_that_recurs_at_the_same_time_every_day_stops_alarming() -> None:
    # a nightly job: flat noisy series with the same short spike at 03:15 every day
    rng = random.Random(11)
    rows = [(i * STEP, 10.0 + rng.gauss(0.0, 0.2)) for i in range(10 * 288)]
    nightly = [d * 288 + 39 for d in range(10)]  # 03:15
    for at in nightly:
        rows[at] = (rows[at][0], rows[at][1] + 8.0)
    det = StreamDetector()
    verdicts = [det.update(t, v) for t, v in rows]
    assert not any(verdicts[at].is_anomaly for at in nightly[5:])
    # the same spike at another hour is still news
    odd = StreamDetector.from_bytes(det.to_bytes())
    t_odd = 10 * 288 * STEP + 12 * 3600.0
    assert odd.update(t_odd, 18.0).is_anomaly


def test_a_nightly_lift_of_an_hour_stops_alarming_after_a_few_nights() -> None:
    # a batch job raises a daily-cycling series by 20 (20 noise units) from 02:00 to 03:00
    # every night: the level-shift and seasonal views see it, and their daily memory (state
    # format 4) learns it; format 3 remembered the seasonal view only and alarmed on 33 of
    # these 60 nights
    nights = 0
    for seed in range(1, 7):
        rng = random.Random(seed)
        rows = []
        for i in range(14 * 288):
            t = i * STEP
            value = 50.0 + 20.0 * math.sin(2 * math.pi * t / DAY) + rng.gauss(0.0, 1.0)
            rows.append((t, value + (20.0 if 2 * 3600 <= t % DAY < 3 * 3600 else 0.0)))
        verdicts = run_verdicts(StreamDetector(), rows)
        flagged = {
            int(t // DAY)
            for (t, _), v in zip(rows, verdicts, strict=True)
            if v.is_anomaly and t >= 4 * DAY and 2 * 3600 <= t % DAY < 4 * 3600
        }
        nights += len(flagged)
    assert nights <= 12  # of 60 nights from the fifth day on (format 4: 4, format 5: 3)


def test_the_daily_memories_round_trip_at_their_two_byte_resolution() -> None:
    det = StreamDetector()
    run(det, seasonal(5 * 288))
    assert any(det.fine.daily_max) and any(det.coarse.daily_max)
    blob = det.to_bytes()
    restored = StreamDetector.from_bytes(blob)
    for scale in ("fine", "coarse"):
        mine, theirs = getattr(det, scale), getattr(restored, scale)
        assert theirs.daily_max == mine.daily_max and theirs.today_max == mine.today_max
    assert StreamDetector.from_json(det.to_json()).to_bytes() == blob
