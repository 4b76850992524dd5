"""An injected CPU anomaly raises the "Unusual CPU use" alert, and its text explains it.

Stored CPU counters (as the agent sends ``node_cpu_seconds_total``) show a machine idling at
about 20 % busy for hours; then something pins the CPU at 95 %. The real scoring job and the
real alert engine run on the store every minute of the anomaly, as the worker would.
"""

from __future__ import annotations

import random

import pytest

from steward.alerts.models import Alert, AlertRule
from steward.insights import alerting, scoring
from tests.insights.conftest import NOW_MS
from tests.insights.data import CPU_META, cpu

pytestmark = pytest.mark.django_db
MIN = 60_000
START = NOW_MS - 180 * MIN
SPIKE = NOW_MS - 20 * MIN


def busy():
    rng = random.Random(11)
    return lambda t: (0.93 if t * 1000 >= SPIKE else 0.20) + 0.04 * rng.random()


def enable_cpu_anomaly_rule(org_id: int) -> AlertRule:
    from steward.alerts import runtime

    runtime.state_row(org_id)  # the default pack, where the rule ships disabled
    rule = AlertRule.objects.get(organization_id=org_id, pack_key="cpu-anomaly")
    assert not rule.enabled
    rule.enabled = True
    rule.save()
    return rule


def run_worker(store, world, until_ms: int, every_ms: int, start_ms: int) -> None:
    for now in range(start_ms, until_ms + 1, every_ms):
        scoring.score_organization(store, world.acme.pk, world.acme.slug, now)
        alerting.feed_anomalies(world.acme.pk, now=now / 1000.0)


def test_a_cpu_anomaly_fires_after_two_minutes_with_an_explanation(store, world):
    org_id = world.acme.pk
    enable_cpu_anomaly_rule(org_id)
    store.set_metadata(org_id, [CPU_META])
    store.append(org_id, cpu(world.acme_device, START, NOW_MS, busy()))
    run_worker(store, world, SPIKE - MIN, 30 * MIN, START + 30 * MIN)  # learning
    assert not Alert.objects.filter(organization_id=org_id).exclude(rule_name="Device offline")

    # Scored every minute. The undamped score of this sustained step stays above 0.5 for
    # about 3.5 minutes (state format 6), so the alert (for: 2m) is firing at +3 min.
    run_worker(store, world, SPIKE + 3 * MIN, MIN, SPIKE)
    alert = Alert.objects.get(organization_id=org_id, rule_name="Unusual CPU use")
    assert alert.status == "firing"
    assert alert.device_id == world.acme_device.pk
    assert alert.firing_since.timestamp() >= (SPIKE + 2 * MIN) / 1000
    assert alert.title == f"CPU on {world.acme_device.hostname} outside its usual band"
    # The detector's own words: what it saw against what it expected.
    assert "observed 9" in alert.description
    assert "expected" in alert.description
    assert alert.description.split(":")[0] in ("spike above expected band", "level shift up")


def test_no_alert_while_the_rule_stays_disabled(store, world):
    org_id = world.acme.pk
    store.set_metadata(org_id, [CPU_META])
    store.append(org_id, cpu(world.acme_device, START, NOW_MS, busy()))
    run_worker(store, world, NOW_MS, 10 * MIN, START + 30 * MIN)
    assert alerting.feed_anomalies(org_id, now=NOW_MS / 1000.0) == 0
    assert not Alert.objects.filter(organization_id=org_id, rule_name="Unusual CPU use").exists()


def test_the_alert_resolves_once_the_detector_has_learned_the_new_level(store, world):
    org_id = world.acme.pk
    enable_cpu_anomaly_rule(org_id)
    store.set_metadata(org_id, [CPU_META])
    store.append(org_id, cpu(world.acme_device, START, NOW_MS, busy()))
    run_worker(store, world, SPIKE - MIN, 30 * MIN, START + 30 * MIN)
    run_worker(store, world, NOW_MS, MIN, SPIKE)
    alert = Alert.objects.get(organization_id=org_id, rule_name="Unusual CPU use")
    assert alert.firing_since is not None
    # One episode, one alert: the sustained load is "CPU saturated"'s business now.
    assert alert.status == "resolved"
