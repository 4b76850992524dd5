"""MemoryStore honours the Store contract of steward.tsdb.types."""

from __future__ import annotations

from steward.promql.memstore import MemoryStore
from steward.tsdb.types import Matcher, MatchOp, MetricType, Sample, SeriesMetadata

CPU = {"__name__": "cpu", "instance": "a"}


def test_append_is_idempotent_on_series_and_timestamp():
    store = MemoryStore()
    first = store.append(1, [Sample(CPU, 10, 1.0), Sample(CPU, 20, 2.0)])
    assert (first.accepted, first.new_series, first.duplicates) == (2, 1, 0)
    again = store.append(1, [Sample(CPU, 10, 9.0), Sample(CPU, 5, 0.5)])
    assert (again.accepted, again.duplicates, again.new_series) == (1, 1, 0)
    (series,) = store.select([1], [Matcher("__name__", MatchOp.EQ, "cpu")], 0, 100)
    assert list(series.timestamps) == [5, 10, 20]
    assert list(series.values) == [0.5, 1.0, 2.0]  # the first value at 10 stays


def test_samples_without_a_name_are_rejected():
    result = MemoryStore().append(1, [Sample({"instance": "a"}, 1, 1.0)])
    assert (result.accepted, result.rejected) == (0, 1)


def test_select_filters_by_organization_matchers_and_time():
    store = MemoryStore()
    store.append(1, [Sample(CPU, t, 1.0) for t in range(0, 100, 10)])
    store.append(2, [Sample({**CPU, "instance": "b"}, t, 1.0) for t in range(0, 100, 10)])
    name = [Matcher("__name__", MatchOp.EQ, "cpu")]
    assert len(store.select([1], name, 0, 100)) == 1
    assert len(store.select(None, name, 0, 100)) == 2
    assert store.select([3], name, 0, 100) == []
    (s,) = store.select([1], name, 20, 40)
    assert list(s.timestamps) == [20, 30, 40]
    regex = [Matcher("instance", MatchOp.RE, "a|b")]
    assert len(store.select(None, regex, 0, 100)) == 2
    assert store.select(None, [Matcher("instance", MatchOp.NRE, "a|b")], 0, 100) == []


def test_series_labels_and_metadata():
    store = MemoryStore()
    store.append(1, [Sample(CPU, 10, 1.0), Sample({"__name__": "mem", "host": "x"}, 10, 1.0)])
    store.append(2, [Sample({"__name__": "disk", "dev": "sda"}, 10, 1.0)])
    assert store.series([1], [Matcher("__name__", MatchOp.EQ, "cpu")], 0, 20) == [CPU]
    assert store.series([1], [Matcher("__name__", MatchOp.EQ, "cpu")], 11, 20) == []
    assert store.label_names([1], []) == ["__name__", "host", "instance"]
    assert store.label_values([1], "__name__", []) == ["cpu", "mem"]
    assert store.label_values(None, "__name__", []) == ["cpu", "disk", "mem"]
    meta = SeriesMetadata("cpu", MetricType.COUNTER, "seconds", "CPU time")
    store.set_metadata(1, [meta])
    assert store.metadata([1]) == [meta]
    assert store.metadata([2]) == []
    assert store.metadata(None, "cpu") == [meta]


def test_a_selection_keeps_its_samples_while_the_series_grows():
    """Samples live in numpy buffers with spare capacity; what a reader was handed must
    not change under it when later samples are appended, inserted or the buffer grows."""
    store = MemoryStore()
    name = [Matcher("__name__", MatchOp.EQ, "cpu")]
    store.append_series(1, CPU, [10, 20], [1.0, 2.0])
    (bulk,) = store.select([1], name, 0, 1000)
    store.append(1, [Sample(CPU, t, float(t)) for t in range(30, 400, 10)])
    (grown,) = store.select([1], name, 0, 1000)
    store.append(1, [Sample(CPU, 15, 1.5), Sample(CPU, 30, 99.0)])  # an insert, a duplicate
    (last,) = store.select([1], name, 0, 1000)
    assert list(bulk.timestamps) == [10, 20]
    assert list(grown.timestamps) == list(range(10, 400, 10))
    assert list(last.timestamps) == [10, 15, *range(20, 400, 10)]
    assert list(last.values)[:4] == [1.0, 1.5, 2.0, 30.0]
    cols = store.select_columns([1], name, 0, 1000)
    assert cols.timestamps.tolist() == list(last.timestamps)
