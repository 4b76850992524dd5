"""Prometheus metrics about Steward itself (not about the managed machines)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily

REGISTRY = CollectorRegistry(auto_describe=True)

REQUESTS = Counter(
    "steward_http_requests_total",
    "HTTP requests served, by method, route group and status code.",
    ["method", "group", "status"],
    registry=REGISTRY,
)
LATENCY = Histogram(
    "steward_http_request_duration_seconds",
    "Time to serve an HTTP request.",
    ["group"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)


def route_group(path: str) -> str:
    """A small, fixed set of label values: never put raw paths (ids) into labels."""
    for prefix, group in (
        ("/api/v1/agent/", "agent"),
        ("/api/", "api"),
        ("/static/", "static"),
        ("/healthz", "probe"),
        ("/readyz", "probe"),
        ("/metrics", "metrics"),
    ):
        if path.startswith(prefix):
            return group
    return "console"


class FleetCollector:
    """Computed at scrape time from the database, so every replica reports the same."""

    def describe(self):
        # Registration calls this instead of collect(), so importing needs no database.
        yield GaugeMetricFamily("steward_agents_online", "")
        yield GaugeMetricFamily("steward_devices", "")

    def collect(self):
        from steward.inventory.models import Device

        online = GaugeMetricFamily(
            "steward_agents_online", "Enrolled devices whose agent has reported recently."
        )
        total = GaugeMetricFamily("steward_devices", "Enrolled, non-revoked devices.")
        counts = Device.objects.status_counts()
        online.add_metric([], counts["online"])
        total.add_metric([], counts["online"] + counts["offline"])
        yield online
        yield total


REGISTRY.register(FleetCollector())
