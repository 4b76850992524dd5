"""maintain(): compaction keeps data and idempotency, rollups are exact, retention drops
whole tiers on time, tiers are picked by range and age, and one worker runs at a time."""

from __future__ import annotations

import math
import random
from collections.abc import Callable

import pytest

from steward.tsdb import TimeSeriesStore, maintenance
from steward.tsdb.types import (
    DAY_MS,
    HOUR_MS,
    MINUTE_MS,
    MetricType,
    Retention,
    RollupField,
    Sample,
    SeriesMetadata,
    Tier,
)
from tests.tsdb.conftest import T0, Clock
from tests.tsdb.helpers import labels, name_is, run

ORG = 1
LOAD = name_is("node_load1")


# (compact_after_ms, compact_step_ms): the watermark is floor(now - after, step).
HOURLY = {"compact_after_ms": 2 * HOUR_MS, "compact_step_ms": HOUR_MS}  # before issue #3
CONFIGS = {"default": {}, "hourly": HOURLY}


@pytest.mark.parametrize(
    ("config", "watermark", "compacted"),
    [
        ("default", T0 - 5 * MINUTE_MS, 1770),  # all but the last 5 minutes
        ("hourly", T0 - 2 * HOUR_MS, 1080),  # the 3 hours before the watermark
    ],
)
def test_compaction_keeps_every_sample(
    make_store: Callable[..., TimeSeriesStore], config: str, watermark: int, compacted: int
) -> None:
    store = make_store(**CONFIGS[config])
    samples = run(labels(), T0 - 5 * HOUR_MS, 1800)
    store.append(ORG, samples)
    result = store.maintain()
    assert result.watermark_ms == watermark
    assert result.compacted_samples == compacted
    [got] = store.select([ORG], LOAD, T0 - 5 * HOUR_MS, T0, Tier.RAW)
    assert list(got.timestamps) == [s.timestamp_ms for s in samples]
    assert list(got.values) == [s.value for s in samples]


@pytest.mark.parametrize(
    ("after", "step"),
    [
        (HOUR_MS, 90_000),
        (HOUR_MS, 7 * MINUTE_MS),
        (HOUR_MS, 0),
        (HOUR_MS, 2 * HOUR_MS),
        (0, MINUTE_MS),
    ],
)
def test_compaction_settings_are_checked(
    make_store: Callable[..., TimeSeriesStore], after: int, step: int
) -> None:
    with pytest.raises(ValueError, match="compact_"):
        make_store(compact_after_ms=after, compact_step_ms=step)


def test_maintain_twice_is_a_no_op_the_second_time(store: TimeSeriesStore) -> None:
    store.append(ORG, run(labels(), T0 - 5 * HOUR_MS, 1800))
    first = store.maintain()
    assert first.compacted_samples > 0
    second = store.maintain()
    assert second.claimed
    assert (second.compacted_samples, second.chunks_written, second.deleted_chunks) == (0, 0, 0)


def test_replays_of_compacted_ranges_are_still_duplicates(store: TimeSeriesStore) -> None:
    samples = run(labels(), T0 - 5 * HOUR_MS, 1800)
    store.append(ORG, samples)
    store.maintain()
    again = store.append(ORG, samples)
    assert (again.accepted, again.duplicates) == (0, 1800)
    assert store.maintain().compacted_samples == 0
    [got] = store.select([ORG], LOAD, T0 - 5 * HOUR_MS, T0, Tier.RAW)
    assert len(got.timestamps) == 1800


def test_late_samples_merge_into_compacted_hours_and_their_rollups(
    store: TimeSeriesStore,
) -> None:
    lbls = labels()
    every_20s = run(lbls, T0 - 5 * HOUR_MS, 900, step=20_000)
    store.append(ORG, every_20s)
    store.maintain()
    # The samples in between arrive late (an agent's spool replay), with some replays.
    late = [Sample(lbls, s.timestamp_ms + 10_000, 1000.0) for s in every_20s]
    result = store.append(ORG, late + every_20s[:10])
    assert (result.accepted, result.duplicates) == (900, 10)
    store.maintain()
    [got] = store.select([ORG], LOAD, T0 - 5 * HOUR_MS, T0, Tier.RAW)
    assert len(got.timestamps) == 1800
    assert list(got.timestamps) == sorted(got.timestamps)
    [counts] = store.select_rollup(
        [ORG], LOAD, T0 - 5 * HOUR_MS, T0 - 2 * HOUR_MS, RollupField.COUNT, Tier.MINUTE
    )
    assert set(counts.values) == {6.0}
    [maxes] = store.select_rollup(
        [ORG], LOAD, T0 - 4 * HOUR_MS, T0 - 3 * HOUR_MS, RollupField.MAX, Tier.HOUR
    )
    assert list(maxes.values) == [1000.0, 1000.0]  # buckets ending at both bounds


def _brute(points: list[tuple[int, float]], step: int) -> dict[int, dict[str, float]]:
    """Buckets by end timestamp, computed the slow obvious way."""
    out: dict[int, dict[str, float]] = {}
    for ts, v in sorted(points):
        if math.isnan(v):
            continue
        end = ts - ts % step + step
        b = out.setdefault(end, {"min": v, "max": v, "sum": 0.0, "count": 0.0})
        b["min"], b["max"] = min(b["min"], v), max(b["max"], v)
        b["sum"] += v
        b["count"] += 1
        b["last"] = v
    for b in out.values():
        b["avg"] = b["sum"] / b["count"]
    return out


@pytest.mark.parametrize(
    "maintain_at",
    [T0 + 3 * HOUR_MS, None, T0 - 2 * HOUR_MS + 37 * MINUTE_MS],
    ids=["stored", "on-the-fly", "mid-hour"],
)
def test_rollups_match_a_brute_force_computation(
    store: TimeSeriesStore, maintain_at: int | None
) -> None:
    rng = random.Random(7)
    lbls = labels()
    points: dict[int, float] = {}
    ts = T0 - 6 * HOUR_MS + 1234
    while ts < T0:
        points[ts] = math.nan if rng.random() < 0.03 else round(rng.uniform(-50, 50), 3)
        ts += rng.randint(1_000, 25_000)
    samples = [Sample(lbls, t, v) for t, v in points.items()]
    rng.shuffle(samples)
    store.append(ORG, samples)
    if maintain_at is not None:
        store.maintain(maintain_at)
    start, end = T0 - 6 * HOUR_MS, T0
    for tier, step in ((Tier.MINUTE, MINUTE_MS), (Tier.HOUR, HOUR_MS)):
        want = {e: b for e, b in _brute(list(points.items()), step).items() if start <= e <= end}
        for field in ("min", "max", "sum", "count", "last", "avg"):
            [got] = store.select_rollup([ORG], LOAD, start, end, RollupField(field), tier)
            assert list(got.timestamps) == sorted(want), (tier, field)
            for e, v in zip(got.timestamps, got.values, strict=True):
                assert v == pytest.approx(want[e][field], rel=1e-12, abs=1e-9), (tier, field, e)


def _check_against_brute_force(
    store: TimeSeriesStore, delivered: dict[str, dict[int, float]], start: int, end: int
) -> None:
    """Every tier and every field of every series equals the brute-force computation
    from the samples delivered so far (the first value of a timestamp wins)."""
    for name, points in delivered.items():
        matchers = name_is(name)
        want_raw = sorted((t, v) for t, v in points.items() if start <= t <= end)
        got_raw = store.select([ORG], matchers, start, end, Tier.RAW)
        got_pairs = list(zip(got_raw[0].timestamps, got_raw[0].values, strict=True))
        assert [t for t, _ in got_pairs] == [t for t, _ in want_raw], name
        for (t, g), (_, w) in zip(got_pairs, want_raw, strict=True):
            assert g == w or (math.isnan(g) and math.isnan(w)), (name, t)
        for tier, step in ((Tier.MINUTE, MINUTE_MS), (Tier.HOUR, HOUR_MS)):
            want = {
                e: b for e, b in _brute(list(points.items()), step).items() if start <= e <= end
            }
            for field in ("min", "max", "sum", "count", "last", "avg"):
                got = store.select_rollup([ORG], matchers, start, end, RollupField(field), tier)
                got_ts = list(got[0].timestamps) if got else []
                assert got_ts == sorted(want), (name, tier, field)
                for e, v in zip(got_ts, got[0].values if got else [], strict=True):
                    expected = want[e][field]
                    assert v == pytest.approx(expected, rel=1e-12, abs=1e-9), (name, tier, field, e)


@pytest.mark.parametrize(
    ("after_min", "step_min"),
    [(5, 5), (1, 1), (7, 15), (3, 20), (120, 60)],
    ids=["5m-default", "1m", "7m-after-15m-step", "3m-after-20m-step", "hourly"],
)
def test_stepwise_compaction_matches_brute_force(
    make_store: Callable[..., TimeSeriesStore],
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
    after_min: int,
    step_min: int,
) -> None:
    """A worker's life: samples arrive as time goes on (some late, some replayed with
    another value, NaN staleness markers among them, one series stale for a whole hour)
    and maintain() runs at irregular times, so the watermark lands on many positions
    inside the hour; after every run all tiers and fields match a brute-force
    computation, and every distinct sample was accepted exactly once."""
    # Two series per compaction transaction: the three series span two id ranges.
    monkeypatch.setattr(maintenance, "SERIES_PER_STEP", 2)
    monkeypatch.setattr(maintenance, "MAX_SERIES_PER_STEP", 2)
    store = make_store(compact_after_ms=after_min * MINUTE_MS, compact_step_ms=step_min * MINUTE_MS)
    rng = random.Random(after_min * 100 + step_min)
    start = T0 - 3 * HOUR_MS
    pending: list[tuple[str, int, float]] = []  # not sent yet (late ones included)
    for name in ("node_load1", "node_load5", "node_stale"):
        ts = start + rng.randint(0, 9_999)
        while ts < T0:
            stale_hour = name == "node_stale" and start + HOUR_MS <= ts < start + 2 * HOUR_MS
            nan = stale_hour or rng.random() < 0.03
            pending.append((name, ts, math.nan if nan else round(rng.uniform(-50, 50), 2)))
            ts += rng.randint(1_000, 25_000)
    late = {i for i in range(len(pending)) if rng.random() < 0.05}
    delivered: dict[str, dict[int, float]] = {
        n: {} for n in ("node_load1", "node_load5", "node_stale")
    }
    sent: list[tuple[str, int, float]] = []
    accepted = 0
    now = start
    positions: set[int] = set()
    while now < T0 + 30 * MINUTE_MS:
        now += rng.randint(1, 13) * MINUTE_MS
        clock.now = now
        batch = [p for i, p in enumerate(pending) if p[1] <= now and i not in late]
        # Late ones come a while after their time (a spool replay); replays of sent ones
        # carry another value, which must not win.
        due = [p for i, p in enumerate(pending) if i in late and p[1] <= now - 20 * MINUTE_MS]
        replays = [(n, t, 1e6) for n, t, _ in rng.sample(sent, min(len(sent), 40))]
        gone = {id(p) for p in batch + due}
        pending = [p for p in pending if id(p) not in gone]
        late = {i for i, p in enumerate(pending) if p[1] <= now or rng.random() < 0.05}
        samples = [Sample(labels(n), t, v) for n, t, v in batch + due + replays]
        rng.shuffle(samples)
        result = store.append(ORG, samples)
        assert result.rejected == 0, result.errors
        assert result.accepted + result.duplicates == len(samples)
        accepted += result.accepted
        for n, t, v in batch + due:
            delivered[n][t] = v
        sent.extend(batch + due)
        done = store.maintain(now)
        watermark = now - after_min * MINUTE_MS
        assert done.watermark_ms == watermark - watermark % (step_min * MINUTE_MS)
        positions.add(done.watermark_ms % HOUR_MS)
        again = store.maintain(now)
        assert (again.compacted_samples, again.chunks_written) == (0, 0)
        _check_against_brute_force(store, delivered, start, T0 + HOUR_MS)
        assert accepted == sum(len(p) for p in delivered.values())
    if step_min < 60:
        assert len(positions) >= 3  # the watermark was mid-hour several times


def test_select_returns_avg_for_gauges_and_last_for_counters(store: TimeSeriesStore) -> None:
    gauge, counter = labels("node_load1"), labels("node_forks_total")
    store.append(ORG, run(gauge, T0 - HOUR_MS, 360) + run(counter, T0 - HOUR_MS, 360))
    store.set_metadata(ORG, [SeriesMetadata("node_forks_total", MetricType.COUNTER, "", "")])
    [g] = store.select([ORG], LOAD, T0 - HOUR_MS, T0, Tier.MINUTE)
    [c] = store.select([ORG], name_is("node_forks_total"), T0 - HOUR_MS, T0, Tier.MINUTE)
    assert g.timestamps[0] == T0 - HOUR_MS + MINUTE_MS  # a bucket is reported at its end
    assert g.values[0] == 2.5  # mean of 0..5
    assert c.values[0] == 5.0  # last of 0..5


def test_tier_is_picked_by_range_length_and_retention(store: TimeSeriesStore) -> None:
    assert store.pick_tier(T0 - HOUR_MS, T0) is Tier.RAW
    assert store.pick_tier(T0 - 2 * DAY_MS, T0) is Tier.RAW
    assert store.pick_tier(T0 - 2 * DAY_MS - 1, T0) is Tier.MINUTE
    assert store.pick_tier(T0 - 60 * DAY_MS, T0) is Tier.MINUTE
    assert store.pick_tier(T0 - 61 * DAY_MS, T0) is Tier.HOUR
    # A short range older than raw retention (7 d) reads 1 m, older than 90 d reads 1 h.
    assert store.pick_tier(T0 - 8 * DAY_MS, T0 - 7 * DAY_MS - HOUR_MS) is Tier.MINUTE
    assert store.pick_tier(T0 - 91 * DAY_MS, T0 - 90 * DAY_MS - HOUR_MS) is Tier.HOUR


def test_select_without_a_tier_uses_the_picked_one(store: TimeSeriesStore) -> None:
    store.append(ORG, run(labels(), T0 - HOUR_MS, 360))
    [raw] = store.select([ORG], LOAD, T0 - HOUR_MS, T0)
    [minutes] = store.select([ORG], LOAD, T0 - 3 * DAY_MS, T0)
    assert (len(raw.timestamps), len(minutes.timestamps)) == (360, 60)


def test_retention_drops_each_tier_after_its_time(
    make_store: Callable[..., TimeSeriesStore], clock: Clock
) -> None:
    retention = Retention(raw_ms=2 * DAY_MS, minute_ms=10 * DAY_MS, hour_ms=30 * DAY_MS)
    store = make_store(retention=retention)
    store.append(ORG, run(labels(), T0 - 3 * HOUR_MS, 360))
    window = (T0 - 3 * HOUR_MS, T0)

    def counts(now: int) -> tuple[int, ...]:
        clock.now = now
        store.maintain(now)
        return tuple(
            sum(len(s.timestamps) for s in store.select([ORG], LOAD, *window, tier))
            for tier in (Tier.RAW, Tier.MINUTE, Tier.HOUR)
        )

    # The samples span [T0 - 3 h, T0 - 2 h): gone from a tier once that end is older than
    # the tier's retention (whole chunks: hours for raw and 1 m, days for 1 h).
    assert counts(T0) == (360, 60, 1)
    assert counts(T0 + 2 * DAY_MS - 3 * HOUR_MS) == (360, 60, 1)
    assert counts(T0 + 2 * DAY_MS - 2 * HOUR_MS) == (0, 60, 1)
    assert counts(T0 + 10 * DAY_MS) == (0, 0, 1)
    assert counts(T0 + 31 * DAY_MS) == (0, 0, 0)


def test_a_second_worker_does_not_run_maintain_concurrently(
    make_store: Callable[..., TimeSeriesStore],
) -> None:
    first, second = make_store(), make_store()
    conn = first.backend.conn()
    token = first.backend.try_claim(conn)
    assert token is not None
    try:
        assert second.maintain().claimed is False
    finally:
        first.backend.release(conn, token)
    assert second.maintain().claimed is True
