"""Append and read: round trips, idempotency, matchers, tenancy, limits, metadata."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from steward.tsdb import TimeSeriesStore
from steward.tsdb.types import (
    HOUR_MS,
    MINUTE_MS,
    Limits,
    Matcher,
    MatchOp,
    MetricType,
    Sample,
    SeriesMetadata,
    Tier,
)
from tests.tsdb.conftest import T0
from tests.tsdb.helpers import eq, labels, name_is, run

ORG_A, ORG_B = 1, 2


def test_append_then_select_round_trip(store: TimeSeriesStore) -> None:
    samples = run(labels(), T0 - HOUR_MS, 360)
    result = store.append(ORG_A, samples)
    assert (result.accepted, result.duplicates, result.rejected, result.new_series) == (
        360,
        0,
        0,
        1,
    )
    [got] = store.select([ORG_A], name_is("node_load1"), T0 - HOUR_MS, T0)
    assert got.labels == labels()
    assert list(got.timestamps) == [s.timestamp_ms for s in samples]
    assert list(got.values) == [s.value for s in samples]


def test_select_bounds_are_inclusive(store: TimeSeriesStore) -> None:
    store.append(ORG_A, run(labels(), T0 - 100_000, 10))
    [got] = store.select([ORG_A], name_is("node_load1"), T0 - 90_000, T0 - 30_000)
    assert list(got.timestamps) == [T0 - 90_000 + i * 10_000 for i in range(7)]


def test_a_replayed_batch_counts_duplicates_and_stores_nothing_twice(
    store: TimeSeriesStore,
) -> None:
    samples = run(labels(), T0 - HOUR_MS, 100) + run(labels(device="2"), T0 - HOUR_MS, 100)
    store.append(ORG_A, samples)
    again = store.append(ORG_A, samples)
    assert (again.accepted, again.duplicates, again.new_series) == (0, 200, 0)
    got = store.select([ORG_A], name_is("node_load1"), T0 - HOUR_MS, T0)
    assert [len(s.timestamps) for s in got] == [100, 100]


def test_duplicates_within_one_batch_keep_the_first(store: TimeSeriesStore) -> None:
    lbls = labels()
    result = store.append(ORG_A, [Sample(lbls, T0 - 1000, 1.0), Sample(lbls, T0 - 1000, 2.0)])
    assert (result.accepted, result.duplicates) == (1, 1)
    [got] = store.select([ORG_A], name_is("node_load1"), T0 - 2000, T0)
    assert list(got.values) == [1.0]


def test_label_order_does_not_make_a_new_series(store: TimeSeriesStore) -> None:
    lbls = labels()
    store.append(ORG_A, [Sample(lbls, T0 - 20_000, 1.0)])
    reordered = dict(reversed(list(lbls.items())))
    result = store.append(ORG_A, [Sample(reordered, T0 - 10_000, 2.0)])
    assert result.new_series == 0
    [got] = store.select([ORG_A], name_is("node_load1"), T0 - HOUR_MS, T0)
    assert list(got.values) == [1.0, 2.0]


def test_empty_label_values_are_absent_labels(store: TimeSeriesStore) -> None:
    store.append(ORG_A, [Sample(labels(), T0 - 20_000, 1.0)])
    result = store.append(ORG_A, [Sample({**labels(), "extra": ""}, T0 - 10_000, 2.0)])
    assert result.new_series == 0


def test_out_of_order_samples_come_back_in_time_order(store: TimeSeriesStore) -> None:
    samples = run(labels(), T0 - HOUR_MS, 50)
    store.append(ORG_A, samples[25:])
    store.append(ORG_A, list(reversed(samples[:25])))
    [got] = store.select([ORG_A], name_is("node_load1"), T0 - HOUR_MS, T0)
    assert list(got.timestamps) == [s.timestamp_ms for s in samples]
    assert list(got.values) == [float(i) for i in range(50)]


def test_nan_values_are_stored(store: TimeSeriesStore) -> None:
    store.append(ORG_A, [Sample(labels(), T0 - 10_000, float("nan"))])
    [got] = store.select([ORG_A], name_is("node_load1"), T0 - HOUR_MS, T0)
    assert got.values[0] != got.values[0]


@pytest.fixture
def fleet(store: TimeSeriesStore) -> TimeSeriesStore:
    for device in ("1", "2", "10"):
        for mode in ("idle", "user"):
            lbls = labels("node_cpu_seconds_total", device, mode=mode)
            store.append(ORG_A, run(lbls, T0 - 60_000, 3))
    store.append(ORG_A, run(labels("node_load1", "1"), T0 - 60_000, 3))
    return store


def _instances_modes(store: TimeSeriesStore, matchers: list[Matcher]) -> set[tuple[str, str]]:
    got = store.series([ORG_A], matchers, T0 - HOUR_MS, T0)
    return {(s["instance"], s.get("mode", "")) for s in got}


def test_equality_matchers(fleet: TimeSeriesStore) -> None:
    matchers = [eq("__name__", "node_cpu_seconds_total"), eq("instance", "host-2")]
    assert _instances_modes(fleet, matchers) == {("host-2", "idle"), ("host-2", "user")}


def test_inequality_matchers(fleet: TimeSeriesStore) -> None:
    matchers = [eq("__name__", "node_cpu_seconds_total"), Matcher("mode", MatchOp.NE, "idle")]
    assert _instances_modes(fleet, matchers) == {
        ("host-1", "user"),
        ("host-2", "user"),
        ("host-10", "user"),
    }


def test_regex_matchers_are_fully_anchored(fleet: TimeSeriesStore) -> None:
    matchers = [
        eq("__name__", "node_cpu_seconds_total"),
        Matcher("instance", MatchOp.RE, "host-1"),
    ]
    assert _instances_modes(fleet, matchers) == {("host-1", "idle"), ("host-1", "user")}
    matchers[1] = Matcher("instance", MatchOp.RE, "host-1.*")
    assert {i for i, _ in _instances_modes(fleet, matchers)} == {"host-1", "host-10"}


def test_negative_regex_matchers(fleet: TimeSeriesStore) -> None:
    matchers = [
        eq("__name__", "node_cpu_seconds_total"),
        Matcher("instance", MatchOp.NRE, "host-1.*"),
        Matcher("mode", MatchOp.NRE, "us.r"),
    ]
    assert _instances_modes(fleet, matchers) == {("host-2", "idle")}


def test_metric_name_regex_and_missing_label_matchers(fleet: TimeSeriesStore) -> None:
    matchers = [Matcher("__name__", MatchOp.RE, "node_(load1|nothing)")]
    assert _instances_modes(fleet, matchers) == {("host-1", "")}
    # A label that is absent matches ="" (Prometheus semantics).
    matchers = [eq("steward_device", "1"), eq("mode", "")]
    assert _instances_modes(fleet, matchers) == {("host-1", "")}


def test_label_names_and_values(fleet: TimeSeriesStore) -> None:
    assert "mode" in fleet.label_names([ORG_A], [])
    assert "mode" not in fleet.label_names([ORG_A], name_is("node_load1"))
    assert fleet.label_values([ORG_A], "__name__", []) == [
        "node_cpu_seconds_total",
        "node_load1",
    ]
    assert fleet.label_values([ORG_A], "instance", name_is("node_cpu_seconds_total")) == [
        "host-1",
        "host-10",
        "host-2",
    ]


def test_series_lists_only_series_with_samples_near_the_range(store: TimeSeriesStore) -> None:
    store.append(ORG_A, run(labels(device="old"), T0 - 3 * HOUR_MS, 3))
    store.append(ORG_A, run(labels(device="new"), T0 - MINUTE_MS, 3))
    got = store.series([ORG_A], name_is("node_load1"), T0 - HOUR_MS, T0)
    assert [s["steward_device"] for s in got] == ["new"]


def test_an_organization_never_sees_another_ones_series(store: TimeSeriesStore) -> None:
    store.append(ORG_A, run(labels(device="1"), T0 - MINUTE_MS, 3))
    store.append(ORG_B, run(labels(device="2"), T0 - MINUTE_MS, 3))
    store.set_metadata(ORG_A, [SeriesMetadata("node_load1", MetricType.GAUGE, "", "a")])
    window = (T0 - HOUR_MS, T0)
    got = store.select([ORG_B], name_is("node_load1"), *window)
    assert [s.labels["steward_device"] for s in got] == ["2"]
    assert [s["steward_device"] for s in store.series([ORG_B], [], *window)] == ["2"]
    assert store.label_values([ORG_B], "steward_device", []) == ["2"]
    assert store.metadata([ORG_B]) == []
    # The same label set in two orgs is two series.
    store.append(ORG_B, run(labels(device="1"), T0 - MINUTE_MS, 3))
    assert len(store.select([ORG_B], [eq("steward_device", "1")], *window)) == 1
    assert len(store.select(None, [eq("steward_device", "1")], *window)) == 2
    assert store.select([], name_is("node_load1"), *window) == []


def test_too_many_series_on_a_device_are_refused_the_rest_stored(
    make_store: Callable[..., TimeSeriesStore],
) -> None:
    store = make_store(limits=Limits(max_series_per_device=3))
    samples = [Sample(labels(device="1", cpu=str(i)), T0 - 1000, 1.0) for i in range(5)]
    samples.append(Sample(labels(device="2"), T0 - 1000, 1.0))
    result = store.append(ORG_A, samples)
    assert (result.accepted, result.rejected, result.new_series) == (4, 2, 4)
    assert "device 1 has 3 series active in the last 24 h, the limit is 3" in result.errors[0]
    # Known series keep flowing; the refused ones stay refused.
    again = [Sample(s.labels, T0 - 500, 2.0) for s in samples]
    result = store.append(ORG_A, again)
    assert (result.accepted, result.rejected) == (4, 2)


def test_too_many_series_in_an_organization_are_refused(
    make_store: Callable[..., TimeSeriesStore],
) -> None:
    store = make_store(limits=Limits(max_series_per_org=2))
    samples = [Sample(labels(device=str(i)), T0 - 1000, 1.0) for i in range(3)]
    result = store.append(ORG_A, samples)
    assert (result.accepted, result.rejected) == (2, 1)
    assert "the organization has 2 series active in the last 24 h" in result.errors[0]
    assert store.append(ORG_B, samples).accepted == 2  # the limit is per organization


def test_the_series_limits_count_the_series_active_in_their_window(
    make_store: Callable[..., TimeSeriesStore],
) -> None:
    # A Docker host's veth interfaces or its busiest processes' pids: series that stop
    # and are replaced. Counting every series ever stored filled a device's limit for good.
    store = make_store(
        limits=Limits(max_series_per_device=3, max_series_per_org=5, active_series_ms=HOUR_MS)
    )
    old = [Sample(labels(device="1", cpu=f"old{i}"), T0 - 2 * HOUR_MS, 1.0) for i in range(3)]
    assert store.append(ORG_A, old).accepted == 3
    new = [Sample(labels(device="1", cpu=f"new{i}"), T0 - 1000, 1.0) for i in range(4)]
    result = store.append(ORG_A, new)
    assert (result.accepted, result.rejected, result.new_series) == (3, 1, 3)
    assert "device 1 has 3 series active in the last 1 h, the limit is 3" in result.errors[0]
    # A series that comes back is never refused, though it makes four active series.
    back = store.append(ORG_A, [Sample(old[0].labels, T0 - 500, 2.0)])
    assert (back.accepted, back.rejected) == (1, 0)
    assert store.append(ORG_A, [Sample(new[3].labels, T0 - 400, 1.0)]).rejected == 1
    # The organization's limit counts the same way: 4 active of device 1, so one more.
    others = [Sample(labels(device=str(n)), T0 - 1000, 1.0) for n in (2, 3)]
    result = store.append(ORG_A, others)
    assert (result.accepted, result.rejected) == (1, 1)
    assert "the organization has 5 series active in the last 1 h" in result.errors[0]


def test_a_stopped_series_frees_its_place_once_its_window_has_passed(
    make_store: Callable[..., TimeSeriesStore], clock
) -> None:
    store = make_store(limits=Limits(max_series_per_device=2, active_series_ms=HOUR_MS))
    first = [Sample(labels(device="1", cpu=str(i)), T0 - 1000, 1.0) for i in range(2)]
    assert store.append(ORG_A, first).accepted == 2
    late = Sample(labels(device="1", cpu="late"), T0 - 500, 1.0)
    assert store.append(ORG_A, [late]).rejected == 1
    clock.now = T0 + 2 * HOUR_MS  # cpu 0 and 1 sent nothing since
    result = store.append(ORG_A, [Sample(late.labels, T0 + 2 * HOUR_MS - 1000, 1.0)])
    assert (result.accepted, result.new_series) == (1, 1)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"x" * 129: "v"}, "characters long, more than the limit of 128"),
        ({"path": "v" * 2049}, "is 2049 characters long"),
        ({f"l{i}": "v" for i in range(60)}, "labels, more than the limit of 64"),
        ({"bad-name": "v"}, "invalid label name"),
        ({"__name__": "1bad"}, "invalid metric name"),
    ],
)
def test_label_limits(store: TimeSeriesStore, bad: dict[str, str], message: str) -> None:
    good = Sample(labels(), T0 - 1000, 1.0)
    result = store.append(ORG_A, [Sample({**labels(), **bad}, T0 - 1000, 1.0), good])
    assert (result.accepted, result.rejected) == (1, 1)
    assert message in result.errors[0]


def test_samples_outside_the_time_window_are_refused(store: TimeSeriesStore) -> None:
    lbls = labels()
    samples = [
        Sample(lbls, T0 - 7 * 24 * HOUR_MS - 1, 1.0),  # older than 7 days
        Sample(lbls, T0 - 7 * 24 * HOUR_MS, 2.0),
        Sample(lbls, T0 + 10 * MINUTE_MS, 3.0),
        Sample(lbls, T0 + 10 * MINUTE_MS + 1, 4.0),  # more than 10 min ahead
    ]
    result = store.append(ORG_A, samples)
    assert (result.accepted, result.rejected) == (2, 2)
    assert "older than the accepted 10080 minutes" in result.errors[0]
    assert "600 s in the future" in result.errors[1]


def test_errors_list_only_the_first_few(store: TimeSeriesStore) -> None:
    samples = [Sample(labels(), T0 + HOUR_MS + i, 1.0) for i in range(50)]
    result = store.append(ORG_A, samples)
    assert result.rejected == 50
    assert len(result.errors) == 10


def test_metadata_last_write_wins(store: TimeSeriesStore) -> None:
    store.set_metadata(ORG_A, [SeriesMetadata("node_load1", MetricType.GAUGE, "", "Load.")])
    store.set_metadata(
        ORG_A,
        [
            SeriesMetadata("node_load1", MetricType.GAUGE, "", "1m load average."),
            SeriesMetadata("node_forks_total", MetricType.COUNTER, "", "Forks."),
        ],
    )
    assert store.metadata([ORG_A]) == [
        SeriesMetadata("node_forks_total", MetricType.COUNTER, "", "Forks."),
        SeriesMetadata("node_load1", MetricType.GAUGE, "", "1m load average."),
    ]
    assert store.metadata([ORG_A], "node_load1")[0].help == "1m load average."
    assert store.metadata(None, "nothing") == []


def test_state_survives_close_and_reopen(make_store: Callable[..., TimeSeriesStore]) -> None:
    first = make_store()
    samples = run(labels(), T0 - 3 * HOUR_MS, 1080)
    first.append(ORG_A, samples)
    first.set_metadata(ORG_A, [SeriesMetadata("node_load1", MetricType.GAUGE, "", "")])
    first.maintain()
    first.close()
    second = make_store()
    replay = second.append(ORG_A, samples)
    assert (replay.accepted, replay.duplicates, replay.new_series) == (0, 1080, 0)
    [got] = second.select([ORG_A], name_is("node_load1"), T0 - 3 * HOUR_MS, T0, Tier.RAW)
    assert list(got.values) == [s.value for s in samples]
    assert second.metadata([ORG_A])[0].metric == "node_load1"
