"""Every insights route, as Globex's owner aimed at Acme's device: 404 and nothing read."""

from __future__ import annotations

import pytest

from steward.insights.models import DetectorState, Forecast
from tests.insights.isolation import INSIGHTS_ROUTES, insights_snapshot

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme_data(world, store):
    from django.utils import timezone

    from steward.tsdb.types import Sample
    from tests.insights.conftest import NOW_MS
    from tests.insights.data import device_labels

    labels = {**device_labels(world.acme_device), "device": "sda"}
    store.append(
        world.acme.pk,
        [
            Sample({**labels, "__name__": "smartctl_device_smartctl_exit_status"}, NOW_MS, 0.0),
            Sample({**labels, "__name__": "smartctl_device_smart_status", "model": "AcmeDisk",
                    "serial": "ACME-1"}, NOW_MS, 1.0),
        ],
    )  # fmt: skip

    now = timezone.now()
    Forecast.objects.create(
        organization=world.acme,
        device=world.acme_device,
        resource="filesystem /acme-secret",
        kind="filesystem",
        status="no_trend",
        confidence=0.8,
        as_of=now,
        computed_at=now,
    )
    DetectorState.objects.create(
        organization=world.acme,
        series_key="k1",
        metric="acme_secret_metric",
        device_id=world.acme_device.pk,
        state=b"",
        cursor_ms=0,
        last_score=0.9,
        last_verdict={"ts": 0, "score": 0.9, "pattern": "level shift up"},
    )


@pytest.mark.parametrize(("method", "path"), sorted(INSIGHTS_ROUTES))
def test_an_outsider_reads_nothing_of_acme(api, world, acme_data, method, path):
    _, allowed = INSIGHTS_ROUTES[(method, path)]
    before = insights_snapshot()
    url = path.replace("{device_id}", str(world.acme_device.pk))

    response = api.as_(world.outsider).call(method, url)

    assert response.status_code in allowed
    assert b"acme" not in response.content.lower()
    assert insights_snapshot() == before


@pytest.mark.parametrize(("method", "path"), sorted(INSIGHTS_ROUTES))
def test_the_same_routes_answer_acmes_viewer(api, world, acme_data, method, path):
    url = path.replace("{device_id}", str(world.acme_device.pk))

    response = api.as_(world.viewer).call(method, url)

    assert response.status_code == 200
    assert b"acme" in response.content.lower()


def test_anomalies_come_highest_score_first_with_an_explanation(api, world, acme_data):
    DetectorState.objects.create(
        organization=world.acme,
        series_key="k2",
        metric="calm_metric",
        device_id=world.acme_device.pk,
        state=b"",
        cursor_ms=0,
        last_score=0.1,
        last_verdict={"ts": 0, "score": 0.1, "pattern": "normal"},
    )

    body = api.as_(world.viewer).get(f"/api/v1/devices/{world.acme_device.pk}/anomalies").json()

    assert [a["metric"] for a in body] == ["acme_secret_metric", "calm_metric"]
    assert body[0]["pattern"] == "level shift up"
    assert body[1]["explanation"] == "within the expected band"
