"""The forecast, anomaly and disk-health rule kinds in the console's rule forms."""

from __future__ import annotations

import pytest

from steward.alerts.models import AlertRule
from steward.alerts.runtime import state_row

pytestmark = pytest.mark.django_db


@pytest.fixture
def pack(world):
    state_row(world.acme.pk)
    return AlertRule.objects.filter(organization=world.acme)


def test_the_pack_lists_the_new_rules_in_words(client, world, pack):
    client.force_login(world.viewer)
    body = client.get("/alerts/rules/").content.decode()
    assert "filesystem * runs out within 3d" in body
    assert "memory runs out within 7d for 30m" in body
    assert "disk * health warning or worse" in body
    assert "anomaly score of cpu &gt;= 0.5 for 2m" in body


@pytest.mark.parametrize("key", ["filesystem-predicted-full", "memory-leak", "disk-failing"])
def test_saving_a_pack_rule_unchanged_keeps_its_condition(client, world, pack, key):
    rule = pack.get(pack_key=key)
    before = dict(rule.condition)
    client.force_login(world.admin)
    page = client.get(f"/alerts/rules/{rule.pk}/")
    assert page.status_code == 200
    form = page.context["form"]
    data = {k: v for k, v in form.initial.items() if v not in (None, "")}
    data.update(enabled="on", notify_mode="all", kind=before["kind"], name=rule.name)
    response = client.post(f"/alerts/rules/{rule.pk}/", data)
    assert response.status_code == 302, response.content.decode()[-2000:]
    rule.refresh_from_db()
    assert rule.condition == before


def test_an_admin_creates_an_anomaly_rule_on_a_metric(client, world, pack):
    client.force_login(world.admin)
    response = client.post(
        f"/alerts/rules/new/?org={world.acme.pk}",
        {
            "name": "Odd inbound traffic",
            "kind": "anomaly",
            "severity": "info",
            "enabled": "on",
            "metric": "node_network_receive_bytes_total",
            "series_matchers": 'device=~"eth.*"',
            "level": "0.8",
            "for_duration": "3m",
            "notify_mode": "all",
        },
    )
    assert response.status_code == 302, response.content.decode()[-3000:]
    rule = AlertRule.objects.get(organization=world.acme, name="Odd inbound traffic")
    assert rule.condition == {
        "kind": "anomaly",
        "level": 0.8,
        "metric": "node_network_receive_bytes_total",
        "matchers": ['device=~"eth.*"'],
    }


def test_a_forecast_rule_without_its_horizon_is_refused_with_the_field(client, world, pack):
    client.force_login(world.admin)
    response = client.post(
        f"/alerts/rules/new/?org={world.acme.pk}",
        {
            "name": "Var filling",
            "kind": "forecast",
            "severity": "warning",
            "enabled": "on",
            "resource": "filesystem /var",
            "notify_mode": "all",
        },
    )
    assert response.status_code == 200
    assert 'id="id_within_error"' in response.content.decode()
    assert not AlertRule.objects.filter(name="Var filling").exists()
