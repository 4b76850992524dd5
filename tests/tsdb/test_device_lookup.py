"""Selecting one metric of a few devices: both narrowed in SQL, the same answer as before."""

from __future__ import annotations

import pytest

from steward.tsdb import TimeSeriesStore
from steward.tsdb.reads import device_values
from steward.tsdb.types import Matcher, MatchOp
from tests.tsdb.conftest import T0
from tests.tsdb.helpers import eq, labels, run


@pytest.mark.parametrize(
    ("matcher", "expected"),
    [
        (Matcher("steward_device", MatchOp.EQ, "7"), ["7"]),
        (Matcher("steward_device", MatchOp.RE, "3|12|40"), ["12", "3", "40"]),
        (Matcher("steward_device", MatchOp.RE, "1.*"), []),  # a real regex: test each series
        (Matcher("steward_device", MatchOp.NE, "7"), []),
        (Matcher("steward_device", MatchOp.EQ, ""), []),
        (Matcher("instance", MatchOp.EQ, "7"), []),
    ],
)
def test_device_values_only_for_outright_lists(matcher, expected) -> None:
    assert device_values([matcher]) == expected


def test_one_metric_of_listed_devices(store: TimeSeriesStore) -> None:
    for device in ("1", "2", "3", "12"):
        for name in ("node_load1", "node_load5"):
            store.append(1, run(labels(name, device), T0, 3))
    store.append(2, run(labels("node_load1", "4"), T0, 3))  # another organization

    def devices(*matchers: Matcher, orgs=(1, 2)) -> list[str]:
        found = store.select(list(orgs), list(matchers), T0, T0 + 60_000)
        return sorted(s.labels["steward_device"] + s.labels["__name__"][-1] for s in found)

    listed = Matcher("steward_device", MatchOp.RE, "1|12|4")
    assert devices(eq("__name__", "node_load1"), listed) == ["11", "121", "41"]
    assert devices(eq("__name__", "node_load1"), listed, orgs=(1,)) == ["11", "121"]
    assert devices(eq("__name__", "node_load5"), eq("steward_device", "3")) == ["35"]
    pattern = Matcher("steward_device", MatchOp.RE, "1.*")
    assert devices(eq("__name__", "node_load1"), pattern) == ["11", "121"]
    assert devices(listed) == ["11", "121", "125", "15", "41"]
