"""StreamDetector state format 8: block means judged by a second detector and by a weekly view."""

from __future__ import annotations

import math
import random
import struct

import pytest

from steward.intel.detector import (
    COARSE_BLOCK,
    WEEKLY_AFTER,
    SingleScaleDetector,
    StreamDetector,
)

STEP = 300.0  # 5-minute samples
SHIFT_AT, SHIFT_LEN = 3000, 72  # six hours


def noise_with_shift(shift: float, seed: int, n: int = 4000) -> list[tuple[float, float]]:
    """White noise (sd 1) around 10, lifted by ``shift`` for six hours from SHIFT_AT."""
    rng = random.Random(seed)
    return [
        (
            i * STEP,
            10.0 + rng.gauss(0.0, 1.0) + (shift if SHIFT_AT <= i < SHIFT_AT + SHIFT_LEN else 0),
        )
        for i in range(n)
    ]


def onsets(det: SingleScaleDetector | StreamDetector, rows: list[tuple[float, float]]) -> dict:
    return {i: v for i, (t, x) in enumerate(rows) if (v := det.update(t, x)).is_anomaly}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_lasting_shift_too_small_for_any_sample_alarms_on_its_block_means(seed: int) -> None:
    rows = noise_with_shift(0.8, seed)
    single = onsets(SingleScaleDetector(), rows)
    both = onsets(StreamDetector(), rows)
    inside = range(SHIFT_AT, SHIFT_AT + SHIFT_LEN)
    assert not [i for i in single if i in inside]  # 0.8 sd: no sample stands out
    found = [i for i in both if i in inside]
    assert len(found) == 1
    verdict = both[found[0]]
    assert verdict.span == COARSE_BLOCK and verdict.pattern != "normal"
    block = [x for _, x in rows[found[0] + 1 - COARSE_BLOCK : found[0] + 1]]
    assert verdict.observed == pytest.approx(sum(block) / COARSE_BLOCK)
    assert verdict.pattern in ("level shift up", "spike above expected band", "seasonal deviation")
    # on the white noise around it, the block scale adds no alarm of its own
    assert {i for i in both if i not in inside} == set(single)


def test_only_a_block_s_last_sample_can_carry_a_block_judgement() -> None:
    det = StreamDetector()
    spans = [(i, det.update(t, x).span) for i, (t, x) in enumerate(noise_with_shift(3.0, 4))]
    wide = [i for i, s in spans if s != 1]
    assert wide and all((i + 1) % COARSE_BLOCK == 0 for i in wide)
    assert {s for _, s in spans} == {1, COARSE_BLOCK}


@pytest.mark.parametrize("cut", [1500, 1505, 1511])  # empty, part-filled and nearly full block
def test_a_state_saved_mid_block_scores_on_identically(cut: int) -> None:
    rows = noise_with_shift(2.0, 5)
    reference = StreamDetector()
    expected = [reference.update(t, x) for t, x in rows]
    det = StreamDetector()
    for t, x in rows[:cut]:
        det.update(t, x)
    assert det.block_n == cut % COARSE_BLOCK
    for restored in (
        StreamDetector.from_bytes(det.to_bytes()),
        StreamDetector.from_json(det.to_json()),
    ):
        assert restored.to_bytes() == det.to_bytes()
        assert [restored.update(t, x) for t, x in rows[cut:]] == expected[cut:]


def test_a_single_scale_state_loads_as_the_sample_scale_with_a_fresh_block_scale() -> None:
    rows = noise_with_shift(2.0, 6)
    single = SingleScaleDetector()
    for t, x in rows[:2000]:
        single.update(t, x)
    blob = single.to_bytes()
    for det in (StreamDetector.from_bytes(blob), StreamDetector.from_json(single.to_json())):
        assert det.fine.to_bytes() == blob
        assert det.coarse.count == 0 and det.block_n == 0 and det.count == 2000
        twin = SingleScaleDetector.from_bytes(blob)
        for t, x in rows[2000:]:
            mine, theirs = det.update(t, x), twin.update(t, x)
            # the sample scale goes on as before; a block judgement only ever raises the score
            assert mine.score >= theirs.score
            if mine.span == 1:
                assert mine == theirs
        assert len(det.to_bytes()) == 4164 and det.to_bytes()[0] == 8


def test_broken_states_are_refused() -> None:
    det = StreamDetector()
    for t, x in noise_with_shift(0.0, 7, 30):
        det.update(t, x)
    blob = det.to_bytes()
    with pytest.raises(ValueError):
        StreamDetector.from_bytes(blob[:-1])
    with pytest.raises(ValueError):
        StreamDetector.from_bytes(blob + b"\0")
    for n, mean in ((COARSE_BLOCK, 1.0), (255, 1.0), (3, math.nan), (3, math.inf)):
        with pytest.raises(ValueError):
            StreamDetector.from_bytes(struct.pack("<BBd", 8, n, mean) + blob[10:])
    data = det.to_dict()
    with pytest.raises(ValueError):
        StreamDetector.from_dict({**data, "block_n": COARSE_BLOCK})
    coarse_at = 10 + 1137
    with pytest.raises(ValueError):  # the block scale's state says another format
        StreamDetector.from_bytes(blob[:coarse_at] + b"\x05" + blob[coarse_at + 1 :])
    with pytest.raises(ValueError):  # and so does the sample scale's
        StreamDetector.from_bytes(blob[:10] + b"\x05" + blob[11:])


DAY = 86400.0
MONDAY = 4 * DAY  # 1970-01-05, a Monday


def office(weeks: int, seed: int, unusual: dict[float, float] | None = None) -> list:
    """An office server: 60 % busy 9-17 on weekdays, 10 % otherwise (UTC), noise sd 3.
    ``unusual`` maps the start of a day to its level during 9-17 instead."""
    rng = random.Random(seed)
    rows = []
    for i in range(int(weeks * 7 * DAY / STEP)):
        t = MONDAY + i * STEP
        day_start = t - t % DAY
        weekday = int((t - MONDAY) // DAY) % 7 < 5
        office_hours = 9 <= (t % DAY) / 3600 < 17
        level = 60.0 if weekday and office_hours else 10.0
        if unusual and day_start in unusual and office_hours:
            level = unusual[day_start]
        rows.append((t, level + rng.gauss(0.0, 3.0)))
    return rows


SATURDAY = MONDAY + 7 * 7 * DAY + 5 * DAY  # week 8
WEDNESDAY = MONDAY + 8 * 7 * DAY + 2 * DAY  # week 9


@pytest.mark.parametrize("seed", [1, 2])
def test_a_busy_saturday_and_a_dead_wednesday_are_weekly_deviations(seed: int) -> None:
    rows = office(10, seed, {SATURDAY: 60.0, WEDNESDAY: 10.0})
    found = onsets(StreamDetector(), rows)
    late = {i: v for i, v in found.items() if rows[i][0] >= MONDAY + 3 * 7 * DAY}
    days = {rows[i][0] - rows[i][0] % DAY: v for i, v in late.items()}
    assert set(days) == {SATURDAY, WEDNESDAY}  # nothing on the ordinary weeks around them
    for verdict in days.values():
        assert verdict.pattern == "weekly deviation" and verdict.span == COARSE_BLOCK
    assert days[SATURDAY].observed > days[SATURDAY].expected_high
    assert days[WEDNESDAY].observed < days[WEDNESDAY].expected_low
    # the sample scale and the block scale alone see an ordinary day in both
    single = onsets(SingleScaleDetector(), rows)
    assert not [i for i in single if rows[i][0] >= MONDAY + 3 * 7 * DAY]


def test_the_weekly_view_is_silent_on_a_series_without_a_weekly_pattern() -> None:
    rng = random.Random(3)
    rows = [
        (MONDAY + i * STEP, 50 + 20 * math.sin(2 * math.pi * i * STEP / DAY) + rng.gauss(0, 2))
        for i in range(int(6 * 7 * DAY / STEP))
    ]
    det = StreamDetector()
    patterns = {det.update(t, x).pattern for t, x in rows}
    assert "weekly deviation" not in patterns
    view = det.weekly
    assert view.week_error > 0.7 * view.day_error  # the week explains no more than the day


def test_the_weekly_view_waits_for_a_week_and_a_day_of_data() -> None:
    rows = office(2, 4, {MONDAY + 7 * DAY + 2 * DAY: 10.0})  # a dead Wednesday in week 2
    det = StreamDetector()
    for t, x in rows:
        verdict = det.update(t, x)
        if verdict.pattern == "weekly deviation":
            assert t - rows[0][0] >= WEEKLY_AFTER


def test_the_weekly_view_round_trips_mid_week() -> None:
    rows = office(3, 5, {MONDAY + 2 * 7 * DAY + 2 * DAY: 10.0})
    cut = len(rows) * 2 // 3 + 5
    reference = StreamDetector()
    expected = [reference.update(t, x) for t, x in rows]
    det = StreamDetector()
    for t, x in rows[:cut]:
        det.update(t, x)
    for restored in (
        StreamDetector.from_bytes(det.to_bytes()),
        StreamDetector.from_json(det.to_json()),
    ):
        assert [restored.update(t, x) for t, x in rows[cut:]] == expected[cut:]


def test_weekly_counts_out_of_range_are_refused() -> None:
    data = StreamDetector().to_dict()
    data["weekly"]["week_seen"][0] = 256
    with pytest.raises(ValueError):
        StreamDetector.from_dict(data)
