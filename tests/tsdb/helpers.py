"""Sample builders shared by the tsdb tests."""

from __future__ import annotations

from steward.tsdb.types import Matcher, MatchOp, Sample


def labels(name: str = "node_load1", device: str = "1", **extra: str) -> dict[str, str]:
    return {
        "__name__": name,
        "instance": f"host-{device}",
        "job": "steward",
        "steward_device": device,
        "steward_org": "acme",
        **extra,
    }


def run(lbls: dict[str, str], start: int, count: int, step: int = 10_000) -> list[Sample]:
    """``count`` samples every ``step`` ms from ``start``; value i at the i-th."""
    return [Sample(lbls, start + i * step, float(i)) for i in range(count)]


def eq(name: str, value: str) -> Matcher:
    return Matcher(name, MatchOp.EQ, value)


def name_is(metric: str) -> list[Matcher]:
    return [eq("__name__", metric)]
