"""The engine's noise control as the app runs it: grouping, inhibition, silences,
maintenance windows, flapping, escalation, operator actions — with a controllable clock
(``now`` passed down; notifications asserted as outbox rows, i.e. before sending)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from steward.alerts import hooks, runtime
from steward.alerts.models import (
    Alert,
    AlertEvent,
    AlertRule,
    CheckDefinition,
    EscalationPolicy,
    MaintenanceWindow,
    Outbox,
    Silence,
)
from steward.alerts.results import record
from steward.checks import CheckResult, Status
from tests.server.conftest import make_device

pytestmark = pytest.mark.django_db


def notifications(kind: str = "notify") -> list[dict]:
    return [o.payload for o in Outbox.objects.filter(kind=kind).order_by("pk")]


def fail(check, now, status=Status.CRITICAL):
    observed = datetime.fromtimestamp(now, UTC)
    record(check, CheckResult(status, "boom", observed_at=observed), now=now)


def check_on(world, device=None, name="sshd running"):
    return CheckDefinition.objects.create(
        organization=world.acme, device=device or world.acme_device, name=name,
        type="process", target="sshd",
    )  # fmt: skip


def test_fifty_devices_offline_in_a_site_make_one_notification(world):
    t0 = time.time()
    devices = [make_device(world.acme_hq, f"pos-{i:02}") for i in range(50)]
    for d in devices:
        hooks.on_device_contact(d, at=t0)
    runtime.tick(world.acme.pk, t0 + 60)
    assert not Alert.objects.exists()
    runtime.tick(world.acme.pk, t0 + 121)
    assert Alert.objects.filter(status="firing", rule_name="Device offline").count() == 50
    sent = notifications()
    assert len(sent) == 1
    note = sent[0]["notification"]
    assert len(note["firing"]) == 50
    assert note["group_labels"] == {"alertname": "Device offline", "site": "HQ"}


def test_device_offline_hides_the_devices_other_alerts(world):
    t0 = time.time()
    hooks.on_device_contact(world.acme_device, at=t0)
    runtime.tick(world.acme.pk, t0 + 121)
    assert len(notifications()) == 1
    fail(check_on(world), t0 + 122)
    assert Alert.objects.filter(status="firing").count() == 2
    assert len(notifications()) == 1  # the check's alert is inhibited


def silence_device(world, t0: float, seconds: float) -> Silence:
    """A silence of the fixture device, from a day before ``t0`` until ``seconds`` after."""
    now = datetime.fromtimestamp(t0, UTC)
    return Silence.objects.create(organization=world.acme, name="maintenance",
                                  matchers=['device="acme-ws-01"'], starts_at=now - timedelta(1),
                                  ends_at=now + timedelta(seconds=seconds))  # fmt: skip


def test_a_silence_hides_and_its_end_pages(world):
    t0 = time.time()
    silence_device(world, t0, 600)
    fail(check_on(world), t0)
    assert Alert.objects.get().status == "firing"
    assert notifications() == []
    runtime.tick(world.acme.pk, t0 + 601)
    assert len(notifications()) == 1  # still firing when the silence ended: it pages


def test_a_maintenance_window_hides_matching_alerts(world):
    MaintenanceWindow.objects.create(
        organization=world.acme, name="always", matchers=['site="HQ"'], timezone="UTC",
        slots=[{"days": list(range(7)), "start": "00:00", "end": "00:00"}],
    )  # fmt: skip
    fail(check_on(world), time.time())
    assert Alert.objects.get().status == "firing"
    assert notifications() == []


def test_a_flapping_check_is_held_instead_of_paging_on_every_flip(world):
    check = check_on(world)
    t0 = time.time()
    for i in range(10):
        fail(check, t0 + i * 10, Status.CRITICAL if i % 2 == 0 else Status.OK)
    alert = Alert.objects.get()
    assert alert.phase == "flapping"
    assert AlertEvent.objects.filter(alert=alert, to_phase="flapping").exists()
    assert len(notifications()) < 5  # five episodes, fewer pages


def test_escalation_steps_follow_the_clock_and_stop_on_ack(world):
    from steward.alerts.defaults import ensure_default_rules

    ensure_default_rules(world.acme)
    policy = EscalationPolicy.objects.create(
        organization=world.acme, name="ops",
        steps=[{"delay_s": 0, "targets": [{"kind": "user", "ref": "tech@acme.test"}]},
               {"delay_s": 300, "targets": [{"kind": "user", "ref": "owner@acme.test"}]}],
    )  # fmt: skip
    AlertRule.objects.filter(organization=world.acme, pack_key="check-failing").update(
        escalation=policy
    )
    from steward.alerts.config import bump

    bump(world.acme.pk)
    t0 = time.time()
    fail(check_on(world), t0)
    steps = notifications("escalate")
    assert [s["step"] for s in steps] == [0]
    assert steps[0]["users"] == ["tech@acme.test"]
    runtime.tick(world.acme.pk, t0 + 299)
    assert len(notifications("escalate")) == 1
    runtime.tick(world.acme.pk, t0 + 301)
    assert [s["users"] for s in notifications("escalate")] == [
        ["tech@acme.test"],
        ["owner@acme.test"],
    ]
    alert = Alert.objects.get()
    runtime.run(world.acme.pk, lambda e, now: e.acknowledge(alert.fingerprint, "tech", now),
                t0 + 302)  # fmt: skip
    alert.refresh_from_db()
    assert (alert.phase, alert.acknowledged_by) == ("acknowledged", "tech")
    runtime.tick(world.acme.pk, t0 + 10_000)
    assert len(notifications("escalate")) == 2


def test_snooze_and_mute_until_resolved(world):
    t0 = time.time()
    check = check_on(world)
    fail(check, t0)
    alert = Alert.objects.get()
    runtime.run(
        world.acme.pk, lambda e, now: e.snooze(alert.fingerprint, t0 + 60, "tech", now), t0 + 1
    )
    alert.refresh_from_db()
    assert alert.phase == "snoozed"
    runtime.tick(world.acme.pk, t0 + 61)
    alert.refresh_from_db()
    assert alert.phase == "firing"
    runtime.run(world.acme.pk, lambda e, now: e.mute_until_resolved(alert.fingerprint, "tech",
                                                                    now), t0 + 62)  # fmt: skip
    alert.refresh_from_db()
    assert (alert.phase, alert.muted_until_resolved) == ("muted", True)
    fail(check, t0 + 63, Status.OK)
    alert.refresh_from_db()
    assert (alert.status, alert.muted_until_resolved) == ("resolved", False)


def test_fingerprint_is_stable_across_episodes(world):
    t0 = time.time()
    check = check_on(world)
    fail(check, t0)
    first = Alert.objects.get().fingerprint
    fail(check, t0 + 1, Status.OK)
    fail(check, t0 + 100, Status.CRITICAL)
    assert Alert.objects.get().fingerprint == first
    assert list(AlertEvent.objects.values_list("to_phase", flat=True)) == [
        "firing",
        "resolved",
        "firing",
    ]


def test_metric_rule_fires_on_arrival_through_on_samples(world):
    from steward.tsdb.types import Sample

    labels = {
        "__name__": "node_filesystem_avail_bytes",
        "steward_device": str(world.acme_device.pk),
        "mountpoint": "/",
        "fstype": "ext4",
        "device": "sda1",
    }
    size = {**labels, "__name__": "node_filesystem_size_bytes"}
    ms = int(time.time() * 1000)
    hooks.on_samples(world.acme.pk, [Sample(labels, ms, 3.0), Sample(size, ms, 100.0)])
    alerts = {a.rule_name: a for a in Alert.objects.all()}
    assert set(alerts) == {"Filesystem almost full", "Filesystem full"}
    assert alerts["Filesystem full"].labels["mountpoint"] == "/"
    assert alerts["Filesystem full"].title == "/ on acme-ws-01 is over 95 % full"
