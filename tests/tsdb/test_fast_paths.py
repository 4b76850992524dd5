"""``series_id``/``append_resolved`` (ingest's fast path) and connection reuse across threads."""

from __future__ import annotations

import threading

from steward.tsdb.store import TimeSeriesStore
from steward.tsdb.types import HOUR_MS, Sample
from tests.tsdb.conftest import T0
from tests.tsdb.helpers import labels, name_is, run


def test_series_id_knows_only_series_appended_through_this_process(store: TimeSeriesStore):
    a = labels("node_load1")
    assert store.series_id(1, a) is None
    store.append(1, run(a, T0 - 60_000, 3))
    sid = store.series_id(1, a)
    assert isinstance(sid, int)
    assert store.series_id(2, a) is None  # ids are per organization


def test_append_resolved_stores_rows_and_samples_in_one_call(store: TimeSeriesStore):
    a, b = labels("node_load1"), labels("node_load5")
    store.append(1, run(a, T0 - 60_000, 1))
    sid = store.series_id(1, a)
    assert sid is not None
    result = store.append_resolved(
        1, [(sid, T0 - 50_000, 2.0), (sid, T0 - 60_000, 9.0)], run(b, T0 - 60_000, 2)
    )
    assert (result.accepted, result.duplicates, result.new_series) == (3, 1, 1)
    [series] = store.select([1], name_is("node_load1"), T0 - HOUR_MS, T0)
    assert list(series.timestamps) == [T0 - 60_000, T0 - 50_000]
    assert list(series.values) == [0.0, 2.0]  # the replayed (sid, ts) kept its first value


def test_append_resolved_applies_the_time_window(store: TimeSeriesStore):
    a = labels("node_load1")
    store.append(1, run(a, T0 - 60_000, 1))
    sid = store.series_id(1, a)
    assert sid is not None
    result = store.append_resolved(1, [(sid, T0 + 2 * HOUR_MS, 1.0), (sid, T0, 1.0)])
    assert (result.accepted, result.rejected) == (1, 1)
    assert result.errors[0].startswith("node_load1: sample at")


def test_append_resolved_widens_the_series_bounds(store: TimeSeriesStore):
    a = labels("node_load1")
    store.append(1, [Sample(a, T0 - 3 * HOUR_MS, 1.0)])
    sid = store.series_id(1, a)
    assert sid is not None
    store.append_resolved(1, [(sid, T0, 2.0)])
    # series() sees it around T0 only if series.last_ms was widened by the append.
    assert store.series([1], name_is("node_load1"), T0 - 60_000, T0) == [
        store.registry.labels[sid][1]
    ]


def test_a_thread_that_ended_hands_its_connection_to_the_next(store: TimeSeriesStore):
    # Django under ASGI runs each request on a new thread: connections must not pile up.
    seen = []

    def use() -> None:
        seen.append(store.backend.conn())
        store.append(1, run(labels(), T0 - 60_000, 1))

    for _ in range(5):
        t = threading.Thread(target=use)
        t.start()
        t.join()
    assert len({id(c) for c in seen}) == 1
    assert len(store.backend._conns) <= 2  # this thread's (setup) and the reused one


def test_threads_alive_at_once_get_connections_of_their_own(store: TimeSeriesStore):
    ready = threading.Barrier(3)
    seen = []

    def use() -> None:
        seen.append(store.backend.conn())
        ready.wait()

    threads = [threading.Thread(target=use) for _ in range(2)]
    for t in threads:
        t.start()
    ready.wait()
    for t in threads:
        t.join()
    assert seen[0] is not seen[1]
