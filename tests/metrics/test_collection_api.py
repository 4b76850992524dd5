"""``/api/v1/metrics/collection``: how often agents collect metrics, per organization, site
or device; the agent is told the interval in effect with its next batch's answer."""

from __future__ import annotations

import pytest

from steward.audit.models import AuditEntry
from steward.metrics.models import MetricsSettings
from tests.metrics.test_agent_metrics import batch, post
from tests.server.conftest import make_device

pytestmark = pytest.mark.django_db

PATH = "metrics/collection"


def get(api, user, **scope):
    return api.as_(user).get(PATH + "?" + "&".join(f"{k}={v}" for k, v in scope.items()))


def put(api, user, interval, **scope):
    return api.as_(user).put(PATH, {**scope, "interval": interval})


def found(response) -> tuple[int | None, int, str]:
    assert response.status_code == 200, response.content
    body = response.json()
    return body["interval"], body["effective"], body["source"]


def test_the_most_specific_scope_wins_and_null_inherits_again(api, world, credential):
    device, site, org = world.acme_device, world.acme_hq, world.acme
    assert found(get(api, world.viewer, device_id=device.pk)) == (None, 10, "server default")
    assert post(credential, batch()).json()["interval"] == 10

    assert found(put(api, world.admin, 60, organization_id=org.pk)) == (60, 60, "organization")
    assert found(get(api, world.viewer, device_id=device.pk)) == (None, 60, "organization")
    assert found(put(api, world.admin, 30, site_id=site.pk)) == (30, 30, "site")
    assert found(put(api, world.admin, 5, device_id=device.pk)) == (5, 5, "device")
    assert post(credential, batch()).json()["interval"] == 5
    # Another device of the site keeps the site's value.
    other = make_device(site, "acme-ws-02")
    assert found(get(api, world.viewer, device_id=other.pk)) == (None, 30, "site")

    assert found(put(api, world.admin, None, device_id=device.pk)) == (None, 30, "site")
    assert post(credential, batch()).json()["interval"] == 30
    assert found(get(api, world.viewer, site_id=site.pk)) == (30, 30, "site")
    assert found(put(api, world.admin, None, site_id=site.pk)) == (None, 60, "organization")
    assert MetricsSettings.objects.filter(organization=org).count() == 1  # the org's row


def test_changes_are_audited(api, world):
    put(api, world.admin, 20, device_id=world.acme_device.pk)
    put(api, world.admin, 25, device_id=world.acme_device.pk)
    put(api, world.admin, None, device_id=world.acme_device.pk)
    actions = list(
        AuditEntry.objects.filter(object_type__icontains="metricssettings")
        .order_by("pk")
        .values_list("action", "actor_label")
    )
    assert [a for a, _ in actions] == ["create", "update", "delete"]
    assert all("admin@acme.test" in label for _, label in actions)


def test_changing_needs_manage_and_other_organizations_stay_hidden(api, world):
    device = world.acme_device
    assert get(api, world.viewer, device_id=device.pk).status_code == 200
    for user in (world.viewer, world.technician):
        assert put(api, user, 20, device_id=device.pk).status_code == 403
    assert MetricsSettings.objects.count() == 0
    assert get(api, world.outsider, device_id=device.pk).status_code == 404
    assert put(api, world.outsider, 20, site_id=world.acme_hq.pk).status_code == 404
    assert put(api, world.outsider, 20, organization_id=world.acme.pk).status_code == 404
    assert get(api, world.requester, device_id=device.pk).status_code == 404
    assert MetricsSettings.objects.count() == 0


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"interval": 0}, "greater than or equal to 1"),
        ({"interval": 3601}, "less than or equal to 3600"),
        ({"interval": "often"}, "interval"),
    ],
)
def test_bad_intervals_are_refused(api, world, body, message):
    response = api.as_(world.admin).put(PATH, {"device_id": world.acme_device.pk, **body})
    assert response.status_code == 422
    assert message in response.content.decode()
    assert MetricsSettings.objects.count() == 0


def test_exactly_one_scope_is_given(api, world):
    both = {"device_id": world.acme_device.pk, "site_id": world.acme_hq.pk}
    for scope in ({}, both):
        response = api.as_(world.admin).put(PATH, {**scope, "interval": 20})
        assert response.status_code == 422
        assert "exactly one of organization_id, site_id, device_id" in response.json()["detail"]
    assert get(api, world.viewer).status_code == 422
