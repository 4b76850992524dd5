"""maintain() that fails midway: nothing it has not done is marked done, and one series it
cannot compact does not hold back the others.

``maintain()`` clears the ``late`` flag and moves the watermark in its first transaction,
then compacts range by range, and compacted only when the watermark moved or the flag
was up. A run that failed or was killed after that first transaction left the rows it had
not moved below the watermark, out of the rollups, until the watermark next moved (an
hour with hourly steps). And a series whose stored chunk cannot be decoded (a corrupt
page) kept the other series of its range (up to 1,000) in ``raw`` and stopped the ranges
after it and retention, run after run.
"""

from __future__ import annotations

from typing import Any

import pytest

from steward.tsdb import TimeSeriesStore, maintenance
from steward.tsdb.codec import ChunkError
from steward.tsdb.types import HOUR_MS, MINUTE_MS, RollupField, Sample, Tier
from tests.tsdb.conftest import T0
from tests.tsdb.helpers import labels, name_is, run

ORG = 1
LOAD = name_is("node_load1")


class Broken(Exception):
    """Stands in for an error inside a compaction step."""


def _raw_below(store: TimeSeriesStore, watermark: int) -> dict[int, int]:
    conn = store.backend.conn()
    cur = store.backend.execute(
        conn, "SELECT series_id, count(*) FROM raw WHERE ts < ? GROUP BY series_id", (watermark,)
    )
    return {int(sid): int(n) for sid, n in cur.fetchall()}


def _minute_counts(store: TimeSeriesStore, start: int, end: int) -> dict[str, float]:
    out = store.select_rollup([ORG], LOAD, start, end, RollupField.COUNT, Tier.MINUTE)
    return {s.labels["steward_device"]: sum(s.values) for s in out}


@pytest.mark.parametrize("error", [Broken("I/O error"), SystemExit(143)], ids=["error", "exit"])
def test_a_failed_compaction_step_leaves_late_rows_flagged(
    store: TimeSeriesStore, monkeypatch: pytest.MonkeyPatch, error: BaseException
) -> None:
    """An exception, or the worker told to stop (SIGTERM as SystemExit) mid-way."""
    start = T0 - 2 * HOUR_MS
    for device in ("1", "2"):
        store.append(ORG, run(labels(device=device), start, 360, step=20_000))
    store.maintain(T0)
    watermark = T0 - 5 * MINUTE_MS
    # A replay: the samples in between arrive late, below the watermark.
    for device in ("1", "2"):
        every_20s = run(labels(device=device), start, 360, step=20_000)
        late = [Sample(s.labels, s.timestamp_ms + 10_000, 1.0) for s in every_20s]
        store.append(ORG, late)
    assert sum(_raw_below(store, watermark).values()) == 690

    def broken(*args: Any) -> None:
        raise error

    with monkeypatch.context() as patch:
        patch.setattr(maintenance, "_compact_range", broken)
        with pytest.raises(type(error)):
            store.maintain(T0)
    conn = store.backend.conn()
    assert store._meta(conn, "late") == 1  # still true: rows are left below the watermark
    # The same minute again (the worker runs every minute; the watermark has not moved).
    store.maintain(T0)
    assert _raw_below(store, watermark) == {}
    assert _minute_counts(store, start, start + HOUR_MS) == {"1": 360.0, "2": 360.0}


def test_a_corrupt_chunk_holds_back_only_its_own_series(
    store: TimeSeriesStore,
) -> None:
    start = T0 - 30 * MINUTE_MS
    devices = [str(d) for d in range(1, 6)]
    for device in devices:
        store.append(ORG, run(labels(device=device), start, 60, step=20_000))
    store.maintain(T0 - 10 * MINUTE_MS)  # chunks of [start, T0 - 15 min); 15 rows left
    bad = store.series_id(ORG, labels(device="3"))
    assert bad is not None
    conn = store.backend.conn()
    with store.backend.write(conn):
        store.backend.execute(
            conn, "UPDATE chunk_raw SET data = ? WHERE series_id = ?", (b"\x03garbage", bad)
        )
    with pytest.raises(ChunkError):
        store.maintain(T0)
    # Every other series is compacted up to the watermark; the bad one waits in raw.
    watermark = T0 - 5 * MINUTE_MS
    assert _raw_below(store, watermark) == {bad: 15}
    good = [d for d in devices if d != "3"]
    counts = _minute_counts(store, start, watermark)
    assert {d: counts[d] for d in good} == dict.fromkeys(good, 60.0)


def test_a_failure_of_the_store_itself_is_not_retried_series_by_series(
    store: TimeSeriesStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    for device in range(1, 21):
        store.append(ORG, run(labels(device=str(device)), T0 - HOUR_MS, 30))
    calls: list[tuple[int, int]] = []

    def broken(store: TimeSeriesStore, conn: Any, lo: int, hi: int, *args: Any) -> None:
        calls.append((lo, hi))
        raise Broken("database or disk is full")

    monkeypatch.setattr(maintenance, "_compact_range", broken)
    with pytest.raises(Broken):
        store.maintain(T0)
    # The range, then SYSTEMIC_FAILURES series alone, and no more.
    assert len(calls) == 1 + maintenance.SYSTEMIC_FAILURES


def test_rows_left_by_a_killed_run_are_compacted_by_the_next(
    store: TimeSeriesStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker killed (SIGKILL, power cut) after the run's first transaction cleared the
    late flag and moved the watermark: nothing of it runs again, so the next run must
    find the rows left below the watermark by itself."""
    for device in ("1", "2"):
        store.append(ORG, run(labels(device=device), T0 - HOUR_MS, 360))
    watermark = T0 - 5 * MINUTE_MS

    def killed(*args: Any) -> None:
        raise SystemExit(137)

    with monkeypatch.context() as patch:
        patch.setattr(maintenance, "_compact_range", killed)
        patch.setattr(maintenance, "_raise_late_flag", lambda *args: None)  # never ran
        with pytest.raises(SystemExit):
            store.maintain(T0)
    assert sum(_raw_below(store, watermark).values()) == 660
    store.maintain(T0)
    assert _raw_below(store, watermark) == {}
