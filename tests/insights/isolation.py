"""Insights entries for tests/server/test_tenant_isolation.py (see LEAD_TODO.md).

Both routes take ``{device_id}``, which that test already fills with Acme's device, so
``ROUTES.update(INSIGHTS_ROUTES)`` is all it needs; ``insights_snapshot()`` may join its
snapshot. ``test_isolation.py`` here walks the same table until then.
"""

from __future__ import annotations

from steward.insights.models import DetectorState, Forecast

V = "/api/v1"
INSIGHTS_ROUTES: dict[tuple[str, str], tuple[dict | None, set[int]]] = {
    ("GET", f"{V}/devices/{{device_id}}/forecasts"): (None, {404}),
    ("GET", f"{V}/devices/{{device_id}}/anomalies"): (None, {404}),
}


def insights_snapshot() -> list:
    return [
        list(Forecast.objects.filter(organization__name="Acme").values()),
        list(DetectorState.objects.filter(organization__name="Acme").values("id", "cursor_ms")),
    ]
