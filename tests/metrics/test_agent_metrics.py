"""POST /api/v1/agent/metrics: the contract in docs/agent-protocol.md § Metrics."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from steward.inventory.models import Device
from steward.metrics.models import MetricsSettings
from steward.tsdb.types import MetricType, SeriesMetadata

pytestmark = pytest.mark.django_db

URL = "/api/v1/agent/metrics"
T0 = 1764390600000


def batch(**overrides) -> dict:
    body = {
        "batch_id": "0f8c2c1e-0001",
        "sent_at": datetime.now(UTC).isoformat(),
        "families": [
            {
                "name": "node_cpu_seconds_total",
                "type": "counter",
                "unit": "seconds",
                "help": "Seconds the CPUs spent in each mode.",
                "series": [
                    {
                        "labels": {"cpu": "0", "mode": "idle"},
                        "points": [[T0, 12345.67], [T0 + 10_000, 12355.12]],
                    },
                    {"labels": {"cpu": "0", "mode": "user"}, "points": [[T0, 5.0]]},
                ],
            },
            {
                "name": "node_load1",
                "type": "gauge",
                "series": [{"labels": {}, "points": [[T0, 0.5]]}],
            },
        ],
        "agent_stats": {
            "spool_bytes": 4096,
            "spool_dropped_samples": 0,
            "collector_errors": 1,
            "collectors_skipped": 0,
        },
    }
    body.update(overrides)
    return body


def post(credential: str, body, gzipped: bool = True, **headers):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    if gzipped:
        raw = gzip.compress(raw)
        headers.setdefault("HTTP_CONTENT_ENCODING", "gzip")
    return Client().post(
        URL,
        data=raw,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {credential}",
        **headers,
    )


def test_a_valid_batch_is_stored_with_the_labels_the_server_adds(world, credential, metrics_store):
    response = post(credential, batch())
    assert response.status_code == 200, response.content
    assert response.json() == {
        "accepted": 4,
        "duplicates": 0,
        "rejected": 0,
        "errors": [],
        "interval": 10,
    }
    [(labels, points)] = metrics_store.find("node_cpu_seconds_total", mode="idle")
    assert labels == {
        "__name__": "node_cpu_seconds_total",
        "cpu": "0",
        "mode": "idle",
        "instance": "acme-ws-01",
        "job": "steward",
        "steward_device": str(world.acme_device.pk),
        "steward_org": "acme",
    }
    assert points == {T0: 12345.67, T0 + 10_000: 12355.12}
    assert set(metrics_store.data) == {world.acme.pk}


def test_labels_the_server_owns_are_overwritten(world, credential, metrics_store):
    body = batch(
        families=[
            {
                "name": "up",
                "type": "gauge",
                "series": [
                    {
                        "labels": {
                            "instance": "evil",
                            "job": "x",
                            "steward_device": "999",
                            "steward_org": "globex",
                        },
                        "points": [[T0, 1]],
                    }
                ],
            }
        ]
    )
    assert post(credential, body).status_code == 200
    [(labels, _)] = metrics_store.find("up")
    assert labels["instance"] == "acme-ws-01" and labels["job"] == "steward"
    assert labels["steward_device"] == str(world.acme_device.pk)
    assert labels["steward_org"] == "acme"


def test_agent_stats_become_series_of_the_device(world, credential, metrics_store):
    post(credential, batch())
    [(labels, points)] = metrics_store.find("steward_agent_spool_bytes")
    assert labels["steward_device"] == str(world.acme_device.pk)
    assert list(points.values()) == [4096.0]
    assert metrics_store.find("steward_agent_collector_errors")


def test_family_metadata_is_recorded(world, credential, metrics_store):
    post(credential, batch())
    assert metrics_store.meta[world.acme.pk]["node_cpu_seconds_total"] == SeriesMetadata(
        "node_cpu_seconds_total",
        MetricType.COUNTER,
        "seconds",
        "Seconds the CPUs spent in each mode.",
    )


def test_a_replayed_batch_counts_duplicates_and_stores_once(credential, metrics_store):
    assert post(credential, batch()).json()["accepted"] == 4
    again = post(credential, batch()).json()
    assert (again["accepted"], again["duplicates"]) == (0, 4)
    assert len(metrics_store.find("node_cpu_seconds_total", mode="idle")[0][1]) == 2


def test_uncompressed_json_is_accepted_too(credential, metrics_store):
    response = post(credential, batch(), gzipped=False)
    assert response.status_code == 200 and response.json()["accepted"] == 4


@pytest.mark.parametrize(
    ("mutate", "where"),
    [
        (
            lambda b: b["families"][1]["series"][0]["points"].append([T0, "high"]),
            "families.1.series.0.points.1.1",
        ),
        (lambda b: b["families"][0].update(name="bad-name"), "families.0.name"),
        (
            lambda b: b["families"][0]["series"][1].update(points=[[1.5, 1]]),
            "families.0.series.1.points.0.0",
        ),
        (
            lambda b: b["families"][0]["series"][0]["labels"].update({"bad-label": "x"}),
            "families.0.series.0.labels.bad-label",
        ),
        (lambda b: b["families"][0].update(type="histogram"), "families.0.type"),
        (lambda b: b.pop("batch_id"), "batch_id"),
    ],
)
def test_a_malformed_batch_is_refused_whole_naming_the_first_error(
    credential, metrics_store, mutate, where
):
    body = batch()
    mutate(body)
    response = post(credential, body)
    assert response.status_code == 422, response.content
    assert response.json()["code"] == "invalid_request"
    assert response.json()["detail"].startswith(where + ":"), response.json()
    assert metrics_store.sample_count() == 0


def test_invalid_json_is_422(credential, metrics_store):
    response = post(credential, b"{not json")
    assert (response.status_code, response.json()["code"]) == (422, "invalid_request")


def test_corrupt_gzip_is_400(credential):
    response = Client().post(
        URL,
        data=b"\x1f\x8bnot really gzip",
        content_type="application/json",
        HTTP_CONTENT_ENCODING="gzip",
        HTTP_AUTHORIZATION=f"Bearer {credential}",
    )
    assert (response.status_code, response.json()["code"]) == (400, "invalid_encoding")


def test_a_body_over_8_mib_once_decompressed_is_413(credential, metrics_store):
    # ~9 MiB of JSON that gzips to a few KiB: the cap is on what it inflates to.
    body = batch(batch_id="x", padding="a" * (9 * 1024 * 1024))
    compressed = gzip.compress(json.dumps(body).encode())
    assert len(compressed) < 100_000
    response = post(credential, compressed, gzipped=False, HTTP_CONTENT_ENCODING="gzip")
    assert (response.status_code, response.json()["code"]) == (413, "too_large")
    assert metrics_store.sample_count() == 0


def test_a_revoked_device_gets_403(world, credential, metrics_store):
    Device.objects.filter(pk=world.acme_device.pk).update(revoked_at=timezone.now())
    response = post(credential, batch())
    assert (response.status_code, response.json()["code"]) == (403, "device_revoked")
    assert metrics_store.sample_count() == 0


def test_an_unknown_credential_gets_401(world):
    response = post("sdc_unknown", batch())
    assert (response.status_code, response.json()["code"]) == (401, "invalid_credential")


def test_an_api_token_is_not_a_device_credential(api, world):
    response = Client().post(
        URL,
        data=json.dumps(batch()),
        content_type="application/json",
        **api.as_(world.owner).headers,
    )
    assert response.status_code == 401


def test_clock_skew_is_refused(credential, metrics_store):
    sent = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    response = post(credential, batch(sent_at=sent))
    assert (response.status_code, response.json()["code"]) == (422, "clock_skew")
    assert metrics_store.sample_count() == 0


def test_the_interval_comes_from_device_then_site_then_organization(world, credential):
    org_row = MetricsSettings.objects.create(organization=world.acme, metrics_interval=60)
    assert post(credential, batch()).json()["interval"] == 60
    MetricsSettings.objects.create(organization=world.acme, site=world.acme_hq, metrics_interval=30)
    assert post(credential, batch()).json()["interval"] == 30
    MetricsSettings.objects.create(
        organization=world.acme, device=world.acme_device, metrics_interval=5
    )
    assert post(credential, batch()).json()["interval"] == 5
    MetricsSettings.objects.filter(device=world.acme_device).update(metrics_interval=None)
    assert post(credential, batch()).json()["interval"] == 30
    MetricsSettings.objects.exclude(pk=org_row.pk).delete()
    org_row.delete()
    assert post(credential, batch()).json()["interval"] == 10


def test_another_organizations_settings_do_not_apply(world, credential):
    MetricsSettings.objects.create(organization=world.globex, metrics_interval=99)
    assert post(credential, batch()).json()["interval"] == 10


def test_store_limit_rejections_are_reported_in_the_200(credential, metrics_store):
    metrics_store.max_series_per_org = 2
    body = post(credential, batch()).json()
    assert body["rejected"] == 1 and body["accepted"] == 3
    assert "series limit of 2" in body["errors"][0]
