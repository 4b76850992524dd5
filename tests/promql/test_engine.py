"""The engine's semantics, construct by construct, on small hand-computed data sets.

The differential test checks the same constructs against a real Prometheus; these tests pin
the values we can compute by hand and run in milliseconds without it.
"""

from __future__ import annotations

import math

import pytest

from steward.promql import (
    QueryError,
    ResultType,
    UnsupportedQuery,
    evaluate_instant,
    evaluate_range,
)
from steward.promql.memstore import MemoryStore
from steward.tsdb.types import Sample

S = 1_000
M = 60 * S
ORG = 1


def load(store: MemoryStore, labels: dict[str, str], points: list[tuple[int, float]], org=ORG):
    store.append(org, [Sample(labels, t, v) for t, v in points])


def instant(store, expr, at, org_ids=(ORG,), **kw):
    return evaluate_instant(expr, at, store, list(org_ids) if org_ids else org_ids, **kw)


def as_dict(result) -> dict[tuple, float]:
    return {tuple(sorted(s.labels.items())): s.values[0] for s in result.series}


@pytest.fixture
def store() -> MemoryStore:
    """Counters `req` every 10 s (a reset at 100 s) and gauges `temp`/`mem` on two hosts."""
    s = MemoryStore()
    # a: +1/s; b: +2/s, restarted at t=100s (value drops to 5)
    load(
        s,
        {"__name__": "req", "instance": "a", "job": "api"},
        [(t * S, t) for t in range(0, 301, 10)],
    )
    b = [(t * S, 2.0 * t if t < 100 else 5.0 + 2 * (t - 100)) for t in range(0, 301, 10)]
    load(s, {"__name__": "req", "instance": "b", "job": "api"}, b)
    load(
        s,
        {"__name__": "temp", "instance": "a"},
        [(t * S, 20.0 + t / 10) for t in range(0, 301, 10)],
    )
    load(
        s,
        {"__name__": "temp", "instance": "b"},
        [(t * S, 40.0 - t / 10) for t in range(0, 301, 10)],
    )
    load(
        s,
        {"__name__": "info", "instance": "a", "role": "web"},
        [(t * S, 1.0) for t in range(0, 301, 10)],
    )
    load(
        s,
        {"__name__": "info", "instance": "b", "role": "db"},
        [(t * S, 1.0) for t in range(0, 301, 10)],
    )
    return s


# -- selectors ------------------------------------------------------------------------------


def test_instant_selector_takes_the_newest_sample_within_the_lookback(store):
    r = instant(store, "temp", 155 * S)
    assert r.type is ResultType.VECTOR
    assert as_dict(r) == {
        (("__name__", "temp"), ("instance", "a")): 35.0,
        (("__name__", "temp"), ("instance", "b")): 25.0,
    }
    assert r.series[0].timestamps == [155 * S]


def test_samples_older_than_the_lookback_are_not_returned(store):
    assert len(instant(store, "temp", 300 * S + 5 * M).series) == 2  # exactly 5 min: kept
    assert instant(store, "temp", 300 * S + 5 * M + 1).series == []
    assert len(instant(store, "temp", 300 * S + 2 * M, lookback_ms=M).series) == 0


def test_label_matchers(store):
    assert len(instant(store, 'temp{instance="a"}', 100 * S).series) == 1
    assert len(instant(store, 'temp{instance!="a"}', 100 * S).series) == 1
    assert len(instant(store, 'req{instance=~"a|b"}', 100 * S).series) == 2
    assert len(instant(store, 'req{instance=~"a.*x"}', 100 * S).series) == 0  # anchored
    assert len(instant(store, 'req{instance!~"b"}', 100 * S).series) == 1
    assert len(instant(store, '{__name__=~"te.*"}', 100 * S).series) == 2


def test_offset_moves_the_selection_back(store):
    assert as_dict(instant(store, 'temp{instance="a"} offset 1m', 200 * S)) == {
        (("__name__", "temp"), ("instance", "a")): 34.0
    }


def test_a_range_selector_alone_returns_raw_samples(store):
    r = instant(store, 'temp{instance="a"}[30s]', 100 * S)
    assert r.type is ResultType.MATRIX
    assert r.series[0].timestamps == [70 * S, 80 * S, 90 * S, 100 * S]  # both ends included


def test_only_the_callers_organizations_are_read(store):
    load(store, {"__name__": "temp", "instance": "z"}, [(100 * S, 1.0)], org=2)
    assert len(instant(store, "temp", 100 * S).series) == 2
    assert len(instant(store, "temp", 100 * S, org_ids=[2]).series) == 1
    assert len(instant(store, "temp", 100 * S, org_ids=None).series) == 3  # staff
    assert instant(store, "temp", 100 * S, org_ids=[]).series == []


# -- counters -------------------------------------------------------------------------------


def test_rate_of_a_steady_counter(store):
    r = as_dict(instant(store, 'rate(req{instance="a"}[1m])', 200 * S))
    assert r == {(("instance", "a"), ("job", "api")): pytest.approx(1.0)}


def test_rate_extrapolates_to_the_window_edges():
    # Samples at 15, 25, 35, 45 s in the window [0, 60]: 30 s sampled, average interval
    # 10 s; the start (15 s away) is beyond 1.1 intervals, so only half an interval is
    # added there; the end too (15 s): increase 30 * (30 + 5 + 5) / 30 = 40.
    s = MemoryStore()
    load(s, {"__name__": "c"}, [(15 * S, 100), (25 * S, 110), (35 * S, 120), (45 * S, 130)])
    assert instant(s, "increase(c[1m])", 60 * S).series[0].values == [pytest.approx(40.0)]
    assert instant(s, "rate(c[1m])", 60 * S).series[0].values == [pytest.approx(40 / 60)]


def test_increase_does_not_extrapolate_below_zero():
    # Counter from 2 to 12 in 10 s: the zero point is 2 s before the first sample, closer
    # than the window start (5 s before): extrapolate to 2 s, and 1 s at the end.
    s = MemoryStore()
    load(s, {"__name__": "c"}, [(5 * S, 2), (10 * S, 7), (15 * S, 12)])
    r = instant(s, "increase(c[15s])", 16 * S)
    assert r.series[0].values == [pytest.approx(10 * (10 + 2 + 1) / 10)]


def test_counter_resets_are_added_back(store):
    # b: 180 at 90 s, restarted (5) at 100 s, 25 at 110 s: it counted 5 + 20 since 90 s;
    # the samples cover the window [90, 110] exactly, so nothing is extrapolated.
    r = instant(store, 'increase(req{instance="b"}[20s])', 110 * S)
    assert r.series[0].values == [pytest.approx(25.0)]
    assert instant(store, 'resets(req{instance="b"}[1m])', 130 * S).series[0].values == [1.0]


def test_irate_uses_the_last_two_samples_and_handles_a_reset(store):
    assert instant(store, 'irate(req{instance="b"}[1m])', 250 * S).series[0].values == [2.0]
    # at 100 s the last two samples are 180 then 5: a reset, so 5 / 10 s
    assert instant(store, 'irate(req{instance="b"}[1m])', 100 * S).series[0].values == [0.5]


def test_rate_needs_two_samples():
    s = MemoryStore()
    load(s, {"__name__": "c"}, [(10 * S, 1)])
    assert instant(s, "rate(c[1m])", 20 * S).series == []


# -- *_over_time ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("function", "expected"),
    [
        ("avg_over_time", 46.5),  # 45, 46, 47, 48 (samples at 250..280 s)
        ("min_over_time", 45.0),
        ("max_over_time", 48.0),
        ("sum_over_time", 186.0),
        ("count_over_time", 4.0),
        ("last_over_time", 48.0),
    ],
)
def test_over_time_functions(store, function, expected):
    r = instant(store, f'{function}(temp{{instance="a"}}[30s])', 280 * S)
    assert r.series[0].values == [pytest.approx(expected)]


def test_quantile_over_time_interpolates(store):
    r = instant(store, 'quantile_over_time(0.5, temp{instance="a"}[30s])', 280 * S)
    assert r.series[0].values == [pytest.approx(46.5)]


def test_min_over_time_skips_nan_unless_all_are_nan():
    s = MemoryStore()
    load(s, {"__name__": "g"}, [(0, math.nan), (10 * S, 3.0), (20 * S, math.nan)])
    assert instant(s, "min_over_time(g[1m])", 20 * S).series[0].values == [3.0]
    assert math.isnan(instant(s, "avg_over_time(g[1m])", 20 * S).series[0].values[0])


def test_deriv_and_predict_linear(store):
    assert instant(store, 'deriv(temp{instance="a"}[1m])', 200 * S).series[0].values == [
        pytest.approx(0.1)
    ]
    r = instant(store, 'predict_linear(temp{instance="a"}[1m], 100)', 200 * S)
    assert r.series[0].values == [pytest.approx(40.0 + 10.0)]


def test_functions_drop_the_metric_name_but_last_over_time_keeps_it(store):
    assert "__name__" not in instant(store, "rate(req[1m])", 100 * S).series[0].labels
    assert "__name__" not in instant(store, "abs(temp)", 100 * S).series[0].labels
    assert instant(store, "last_over_time(temp[1m])", 100 * S).series[0].labels["__name__"]


# -- aggregations ---------------------------------------------------------------------------


def test_aggregations(store):
    at = 100 * S
    assert instant(store, "sum(temp)", at).series[0].values == [60.0]
    assert instant(store, "avg(temp)", at).series[0].values == [30.0]
    assert instant(store, "min(temp)", at).series[0].values == [30.0]
    assert instant(store, "max(temp)", at).series[0].values == [30.0]
    assert instant(store, "count(req)", at).series[0].values == [2.0]
    assert instant(store, "count(temp)", at).series[0].labels == {}


def test_by_keeps_only_the_listed_labels_and_without_drops_them(store):
    by = instant(store, "sum by (instance) (req)", 50 * S)
    assert {tuple(s.labels.items()) for s in by.series} == {
        (("instance", "a"),),
        (("instance", "b"),),
    }
    without = instant(store, "sum without (instance) (req)", 50 * S)
    assert [s.labels for s in without.series] == [{"job": "api"}]
    assert without.series[0].values == [150.0]


def test_topk_and_bottomk_keep_the_labels_and_order_by_value(store):
    top = instant(store, "topk(1, temp)", 50 * S)
    assert [s.labels for s in top.series] == [{"__name__": "temp", "instance": "b"}]
    bottom = instant(store, "bottomk(1, temp)", 50 * S)
    assert [s.labels["instance"] for s in bottom.series] == ["a"]
    assert [s.values[0] for s in instant(store, "topk(5, temp)", 50 * S).series] == [35, 25]


def test_topk_in_a_range_query_picks_per_step(store):
    r = evaluate_range("topk(1, temp)", 0, 300 * S, 150 * S, store, [ORG])
    picks = {s.labels["instance"]: s.timestamps for s in r.series}
    assert picks == {"b": [0], "a": [150 * S, 300 * S]}


# -- binary operators -----------------------------------------------------------------------


def test_scalar_arithmetic_and_precedence(store):
    assert instant(store, "(1 + 2) * 3 - 4 / 2 ^ 2", 0).scalar == 8.0
    assert instant(store, "2 ^ 3 ^ 2", 0).scalar == 512.0  # right-associative
    assert instant(store, "-2 ^ 2", 0).scalar == -4.0
    assert instant(store, "7 % 3", 0).scalar == 1.0
    assert instant(store, "1h", 0).scalar == 3600.0


def test_vector_scalar_arithmetic_drops_the_name(store):
    r = instant(store, 'temp{instance="a"} * 2', 100 * S)
    assert r.series[0].labels == {"instance": "a"} and r.series[0].values == [60.0]
    assert instant(store, '-temp{instance="a"}', 100 * S).series[0].values == [-30.0]


def test_comparisons_filter_and_bool_returns_zero_or_one(store):
    r = instant(store, "temp > 32", 50 * S)
    assert [s.labels for s in r.series] == [{"__name__": "temp", "instance": "b"}]
    r = instant(store, "32 < temp", 50 * S)
    assert r.series[0].values == [35.0]  # the vector's value, not the scalar's
    r = as_dict(instant(store, "temp > bool 32", 50 * S))
    assert r == {(("instance", "a"),): 0.0, (("instance", "b"),): 1.0}


def test_one_to_one_matching_with_on_and_ignoring(store):
    r = instant(store, 'req{instance="a"} / on(job) req{instance="b"}', 50 * S)
    assert as_dict(r) == {(("job", "api"),): 0.5}
    r = instant(store, "req / ignoring(job) temp", 100 * S)
    assert as_dict(r) == {
        (("instance", "a"),): pytest.approx(100 / 30),
        (("instance", "b"),): pytest.approx(5 / 30),
    }


def test_group_left_copies_labels_from_the_one_side(store):
    r = instant(store, "temp * on(instance) group_left(role) info", 100 * S)
    assert sorted(s.labels["role"] for s in r.series) == ["db", "web"]
    assert all("__name__" not in s.labels for s in r.series)
    r = instant(store, "info * on(instance) group_right(role) temp", 100 * S)
    assert sorted((s.labels["instance"], s.labels["role"]) for s in r.series) == [
        ("a", "web"),
        ("b", "db"),
    ]


def test_many_to_many_matching_is_refused(store):
    with pytest.raises(QueryError, match="found duplicate series for the match group"):
        instant(store, "temp + on(job) req", 100 * S)
    with pytest.raises(QueryError, match="many-to-one matching must be explicit"):
        instant(store, "req + on(job) sum by (job) (req)", 100 * S)


def test_set_operators(store):
    at = 100 * S
    assert len(instant(store, 'temp and on(instance) req{instance="a"}', at).series) == 1
    assert len(instant(store, 'temp unless on(instance) req{instance="a"}', at).series) == 1
    assert len(instant(store, "temp or req", at).series) == 4
    assert len(instant(store, "temp and req", at).series) == 0  # labels differ (job)
    both = instant(store, 'temp{instance="a"} or on(instance) temp', at)
    assert len(both.series) == 2


def test_vector_vector_comparison_with_bool(store):
    r = instant(store, "temp > bool on(instance) info", 100 * S)
    assert as_dict(r) == {(("instance", "a"),): 1.0, (("instance", "b"),): 1.0}


# -- functions ------------------------------------------------------------------------------


def test_scalar_vector_and_time(store):
    assert instant(store, "scalar(sum(temp))", 100 * S).scalar == 60.0
    assert math.isnan(instant(store, "scalar(temp)", 100 * S).scalar)  # two elements
    assert instant(store, "time()", 100 * S).scalar == 100.0
    assert as_dict(instant(store, "vector(3)", 0)) == {(): 3.0}


def test_clamp_round_abs(store):
    assert instant(store, 'clamp_min(temp{instance="a"}, 50)', 0).series[0].values == [50.0]
    assert instant(store, 'clamp_max(temp{instance="a"}, 5)', 0).series[0].values == [5.0]
    assert instant(store, 'clamp(temp{instance="a"}, 1, 5)', 0).series[0].values == [5.0]
    assert instant(store, 'clamp(temp{instance="a"}, 5, 1)', 0).series == []
    assert instant(store, 'round(temp{instance="a"} / 3)', 0).series[0].values == [7.0]
    assert instant(store, 'round(temp{instance="a"} / 3, 0.5)', 0).series[0].values == [6.5]
    assert instant(store, 'abs(-temp{instance="a"})', 0).series[0].values == [20.0]


def test_absent(store):
    assert as_dict(instant(store, 'absent(nothing{job="x", a=~"y"})', 0)) == {(("job", "x"),): 1.0}
    assert instant(store, "absent(temp)", 0).series == []


def test_label_replace(store):
    r = instant(store, 'label_replace(temp, "host", "node-$1", "instance", "(.*)")', 0)
    assert sorted(s.labels["host"] for s in r.series) == ["node-a", "node-b"]


# -- syntax ---------------------------------------------------------------------------------


def test_multi_line_queries_with_single_quotes_and_comments(store):
    expr = """
        sum by (instance) (   # per host
          rate(req{job='api'}[1m])
        )
    """
    assert len(instant(store, expr, 200 * S).series) == 2


def test_string_literal(store):
    r = instant(store, '"hello"', 5 * S)
    assert (r.type, r.string, r.time_ms) == (ResultType.STRING, "hello", 5 * S)


def test_parse_errors_carry_the_parser_message(store):
    with pytest.raises(QueryError, match="unclosed left parenthesis") as exc:
        instant(store, "sum(rate(x[5m])", 0)
    assert not isinstance(exc.value, UnsupportedQuery)
    with pytest.raises(QueryError, match="expected type matrix"):
        instant(store, "rate(x)", 0)


@pytest.mark.parametrize(
    ("expr", "construct"),
    [
        ("rate(req[5m])[30m:1m]", "subquery"),
        ("req @ 100", "@ modifier"),
        ("histogram_quantile(0.9, req)", "function histogram_quantile()"),
        ('count_values("v", req)', "aggregation count_values"),
        ("timestamp(req)", "function timestamp()"),
    ],
)
def test_unsupported_constructs_are_named(store, expr, construct):
    with pytest.raises(UnsupportedQuery) as exc:
        instant(store, expr, 100 * S)
    assert exc.value.construct == construct
    assert construct in str(exc.value)


def test_a_range_query_cannot_return_a_range_vector(store):
    with pytest.raises(QueryError, match='invalid expression type "range vector"'):
        evaluate_range("req[1m]", 0, 100 * S, 10 * S, store, [ORG])


# -- range queries --------------------------------------------------------------------------


def test_range_query_steps_include_both_ends(store):
    r = evaluate_range('temp{instance="a"}', 0, 300 * S, 60 * S, store, [ORG])
    assert r.type is ResultType.MATRIX
    assert r.series[0].timestamps == [0, 60 * S, 120 * S, 180 * S, 240 * S, 300 * S]
    assert r.series[0].values == [20.0, 26.0, 32.0, 38.0, 44.0, 50.0]


def test_a_scalar_range_query_is_a_matrix_without_labels(store):
    r = evaluate_range("time()", 0, 20 * S, 10 * S, store, [ORG])
    assert [(s.labels, s.values) for s in r.series] == [({}, [0.0, 10.0, 20.0])]


def test_each_selector_is_read_once_per_range_query(store):
    calls = []
    original = store.select_columns

    def counting(*args, **kwargs):
        calls.append(args[2:4])
        return original(*args, **kwargs)

    store.select_columns = counting
    evaluate_range("sum(rate(req[1m])) / sum(temp)", 0, 300 * S, 10 * S, store, [ORG])
    # The range selector reads from start - 1m; the instant one from start - lookback.
    assert calls == [(-M, 300 * S), (-5 * M, 300 * S)]


def test_range_query_and_instant_query_agree(store):
    expr = "sum by (instance) (rate(req[1m])) * on(instance) group_left(role) info"
    r = evaluate_range(expr, 60 * S, 300 * S, 30 * S, store, [ORG])
    for series in r.series:
        for t, v in zip(series.timestamps, series.values, strict=True):
            point = instant(store, expr, t)
            match = [s for s in point.series if s.labels == series.labels]
            assert match[0].values == [pytest.approx(v)]
