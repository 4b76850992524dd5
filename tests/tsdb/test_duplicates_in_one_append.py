"""Of two samples with the same (series, timestamp) in ONE append, the first wins.

The ADR and ``Store.append`` promise it (a replay never overwrites), and SQLite keeps it by
inserting in a stable order. On PostgreSQL the rows went through ``INSERT ... SELECT ...
ORDER BY bucket, series_id, ts ON CONFLICT DO NOTHING`` from the COPY table: the sort is not
stable, so which of two equal rows was inserted first (and won) was up to the sort. The
test failed there before the fix (the COPY rows now carry their order).
"""

from __future__ import annotations

import random

from steward.tsdb.types import Sample, Tier
from tests.tsdb.conftest import T0
from tests.tsdb.helpers import labels, name_is


def test_first_of_equal_samples_in_one_append_wins(store, clock):
    rng = random.Random(5)
    series = [labels("m", str(d)) for d in range(40)]
    start = T0 - 10 * 60_000
    clock.now = T0
    samples = []
    for i in range(60):
        for lbls in series:
            samples.append(Sample(lbls, start + i * 10_000, float(rng.randint(0, 1_000_000))))
    # A replay of a third of them with other values, shuffled among the originals' second
    # half: a replay may come before its original (then it is the first of the two).
    replays = [Sample(s.labels, s.timestamp_ms, -1.0 - k) for k, s in enumerate(samples[::3])]
    tail = samples[len(samples) // 2 :] + replays
    rng.shuffle(tail)
    batch = samples[: len(samples) // 2] + tail
    first: dict[tuple[str, int], float] = {}
    for s in batch:
        first.setdefault((s.labels["steward_device"], s.timestamp_ms), s.value)
    result = store.append(1, batch)
    assert result.accepted == len(samples)
    assert result.duplicates == len(replays)
    for when in ("raw", "compacted"):
        got = store.select(None, name_is("m"), start, T0, Tier.RAW)
        seen = {
            (s.labels["steward_device"], t): v
            for s in got
            for t, v in zip(s.timestamps, s.values, strict=True)
        }
        assert seen == first, when
        store.maintain(T0 + 60 * 60_000)
