"""Insights entries for tests/server/test_tenant_isolation.py (ROUTES, snapshot).

The routes take ``{device_id}``, which that test already fills with Acme's device; it
merges ``INSIGHTS_ROUTES`` and ``insights_snapshot()``. ``test_isolation.py`` here walks the
same table on its own.
"""

from __future__ import annotations

from steward.insights.models import DetectorState, Forecast

V = "/api/v1"
INSIGHTS_ROUTES: dict[tuple[str, str], tuple[dict | None, set[int]]] = {
    ("GET", f"{V}/devices/{{device_id}}/forecasts"): (None, {404}),
    ("GET", f"{V}/devices/{{device_id}}/anomalies"): (None, {404}),
    ("GET", f"{V}/devices/{{device_id}}/disk-health"): (None, {404}),
}


def insights_snapshot() -> list:
    return [
        list(Forecast.objects.filter(organization__name="Acme").values()),
        list(DetectorState.objects.filter(organization__name="Acme").values("id", "cursor_ms")),
    ]
