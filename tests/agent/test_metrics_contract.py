"""Every collector against the families table on this machine: names, types, units,
labels, finite values, counters that do not go backwards (psutil's test_contracts idea)."""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from steward.agent.metrics.batch import BatchBuilder
from steward.agent.metrics.collectors import Collector, Sample
from steward.agent.metrics.engine import MetricsEngine, Round, default_collectors
from steward.agent.metrics.families import (
    BY_NAME,
    FAMILIES,
    LABEL_NAME_RE,
    METRIC_NAME_RE,
    TOP_PROCESSES,
    families_of,
    markdown_table,
)

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")

COLLECTORS = default_collectors()
# Families the pipeline adds itself (spool state) rather than a collector's collect().
PIPELINE_FAMILIES = {"steward_agent_spool_bytes", "steward_agent_spool_dropped_samples_total"}
ENGINE_FAMILIES = {
    "steward_agent_collector_errors_total",
    "steward_agent_collector_skipped_total",
    "steward_agent_collector_duration_seconds",
}
UNIT_SUFFIXES = {"bytes": "_bytes", "seconds": "_seconds", "celsius": "_celsius", "rpm": "_rpm"}


@pytest.fixture(scope="module")
def two_rounds() -> Iterator[dict[str, tuple[list[Sample], list[Sample]]]]:
    """Each collector's samples from two collections a little apart."""
    first = {c.name: c.collect() for c in COLLECTORS}
    busy = sum(i * i for i in range(200_000))  # let counters move
    assert busy
    yield {c.name: (first[c.name], c.collect()) for c in COLLECTORS}


def test_the_table_has_unique_valid_names_and_known_collectors() -> None:
    names = [f.name for f in FAMILIES]
    assert len(names) == len(set(names))
    collector_names = {c.name for c in COLLECTORS}
    for family in FAMILIES:
        assert METRIC_NAME_RE.match(family.name), family.name
        assert all(LABEL_NAME_RE.match(label) for label in family.labels), family
        assert family.type in ("counter", "gauge")
        assert family.collector in collector_names, family
        assert family.help.strip()
        assert not set(family.labels) & {"instance", "job", "steward_device", "steward_org"}


def test_names_follow_prometheus_conventions_except_node_exporters_own() -> None:
    for family in FAMILIES:
        base = family.name.removesuffix("_total")
        if family.type == "counter" and not family.name.startswith("node_netstat_"):
            assert family.name.endswith("_total"), family.name
        if family.type == "gauge":
            assert not family.name.endswith("_total"), family.name
        if family.unit:
            assert base.endswith(UNIT_SUFFIXES[family.unit]), family.name
        else:
            assert not base.endswith(tuple(UNIT_SUFFIXES.values())), family.name


@pytest.mark.parametrize("collector", COLLECTORS, ids=lambda c: c.name)
def test_collector_samples_match_its_families(
    collector: Collector, two_rounds: dict[str, tuple[list[Sample], list[Sample]]]
) -> None:
    own = {f.name for f in families_of(collector.name)} - PIPELINE_FAMILIES - ENGINE_FAMILIES
    for samples in two_rounds[collector.name]:
        for name, labels, value in samples:
            assert name in own, f"{collector.name} produced {name}"
            assert len(labels) == len(BY_NAME[name].labels), name
            assert all(isinstance(v, str) for v in labels), (name, labels)
            assert isinstance(value, int | float) and not isinstance(value, bool), name
            assert math.isfinite(value), (name, labels, value)
        keys = [(name, labels) for name, labels, _ in samples]
        assert len(keys) == len(set(keys)), f"{collector.name} repeats a series in one round"


@pytest.mark.parametrize("collector", COLLECTORS, ids=lambda c: c.name)
def test_counters_do_not_decrease_between_collections(
    collector: Collector, two_rounds: dict[str, tuple[list[Sample], list[Sample]]]
) -> None:
    first, second = two_rounds[collector.name]
    before = {(n, labels): v for n, labels, v in first if BY_NAME[n].type == "counter"}
    for name, labels, value in second:
        if (name, labels) in before:
            assert value >= before[name, labels], (name, labels)


def test_every_collector_family_that_this_host_has_is_produced(
    two_rounds: dict[str, tuple[list[Sample], list[Sample]]],
) -> None:
    produced = {name for first, _ in two_rounds.values() for name, _, _ in first}
    # What a VM or container may simply not have: sensors, disks in /proc/diskstats,
    # SMART-capable disks (and smartctl, and root).
    optional = {f.name for f in FAMILIES if f.collector in ("hwmon", "diskstats", "smart")}
    missing = {f.name for f in FAMILIES} - produced - optional - PIPELINE_FAMILIES - ENGINE_FAMILIES
    assert missing == set()


def test_top_processes_are_bounded(
    two_rounds: dict[str, tuple[list[Sample], list[Sample]]],
) -> None:
    first, _ = two_rounds["top_processes"]
    counts = {name: sum(1 for n, _, _ in first if n == name) for name, _, _ in first}
    assert counts and all(count <= TOP_PROCESSES for count in counts.values())


def test_a_round_becomes_a_batch_in_the_protocols_shape() -> None:
    times = iter([1764390600.0, 1764390610.0])  # rounds 10 s apart, whatever the machine
    engine = MetricsEngine(COLLECTORS[:3], clock=lambda: next(times))
    builder = BatchBuilder()
    rounds: list[Round] = [engine.collect(), engine.collect()]
    for round_ in rounds:
        builder.add(round_)
    payload: dict[str, Any] = builder.payload()
    assert re.fullmatch(r"[0-9a-f-]{36}", payload["batch_id"])
    for family in payload["families"]:
        assert set(family) == {"name", "type", "unit", "help", "series"}
        meta = BY_NAME[family["name"]]
        assert (family["type"], family["unit"], family["help"]) == (meta.type, meta.unit, meta.help)
        for series in family["series"]:
            assert list(series["labels"]) == list(meta.labels)
            timestamps = [point[0] for point in series["points"]]
            assert all(isinstance(ts, int) for ts in timestamps)
            assert timestamps == sorted(set(timestamps))  # one point per round
    assert builder.rounds == 2
    engine.close()


def test_the_markdown_table_lists_every_family() -> None:
    table = markdown_table()
    assert all(f"`{family.name}`" in table for family in FAMILIES)
