"""Device contact (heartbeats) reaches the alert engine through the feeder, in one round
for many devices, not a round inside each heartbeat request."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest
from django.test import Client

from steward.alerts import hooks, runtime
from steward.alerts.models import Alert
from steward.inventory.models import Device
from tests.alerts.conftest import device_auth
from tests.server.conftest import make_device


@pytest.fixture
def fresh_engines():
    runtime.forget()
    yield
    runtime.forget()


@pytest.mark.django_db(transaction=True)
def test_heartbeats_resolve_offline_alerts_in_one_round_for_all(world, fresh_engines, monkeypatch):
    t0 = time.time() - 600
    devices = [make_device(world.acme_hq, f"pos-{i:02}") for i in range(5)]
    for d in devices:
        hooks.on_device_contact(d, at=t0)
    assert runtime.settle()  # contact reaches the engine through the feeder
    runtime.tick(world.acme.pk, t0 + 300)
    assert Alert.objects.filter(status="firing", rule_name="Device offline").count() == 5
    Device.objects.filter(pk__in=[d.pk for d in devices]).update(recorded_status="offline")

    rounds: list[int] = []
    run_batch = runtime._run_batch

    def counting(org_id, batch, at):
        rounds.append(len(batch))
        return run_batch(org_id, batch, at)

    class ParkedFeeder:  # the feeder thread, held still so this thread can run its round
        def is_alive(self) -> bool:
            return True

    monkeypatch.setattr(runtime, "_run_batch", counting)
    monkeypatch.setattr(runtime, "_feeder", ParkedFeeder())
    monkeypatch.setattr(runtime, "feed_inline", lambda: False)  # as on a database file
    for d in devices:
        answer = Client().post(
            "/api/v1/agent/heartbeat",
            data=json.dumps({"sent_at": datetime.now(UTC).isoformat()}),
            content_type="application/json",
            **device_auth(d),
        )
        assert answer.status_code == 200, answer.content
    assert rounds == []  # the requests ran no round of their own...
    assert world.acme.pk in runtime._soon

    runtime._soon.discard(world.acme.pk)
    runtime._drain(world.acme.pk, wait=True)  # ...the feeder's one round takes all five

    assert rounds == [5]
    assert not Alert.objects.filter(status="firing", rule_name="Device offline").exists()


@pytest.mark.django_db(transaction=True)
def test_devices_recorded_offline_together_are_judged_in_one_round(world, monkeypatch):
    from datetime import timedelta

    from django.utils import timezone

    from steward.alerts.models import EngineState
    from steward.inventory import presence

    devices = [make_device(world.acme_hq, f"till-{i:02}") for i in range(6)]
    seen = timezone.now() - timedelta(minutes=10)  # their last contact
    for d in devices:
        hooks.on_device_contact(d, at=seen.timestamp())
    assert runtime.settle()
    Device.objects.filter(pk__in=[d.pk for d in devices]).update(
        last_seen=seen, recorded_status="online"
    )
    rounds: list[int] = []
    run_batch = runtime._run_batch

    def counting(org_id, batch, at):
        rounds.append(len(batch))
        return run_batch(org_id, batch, at)

    monkeypatch.setattr(runtime, "_run_batch", counting)
    before = EngineState.objects.get(organization=world.acme).version
    assert presence.record_offline_devices() == 6
    assert rounds == [6]
    assert EngineState.objects.get(organization=world.acme).version == before + 1
    runtime.tick(world.acme.pk)  # judged from their last contact, 10 minutes ago
    assert Alert.objects.filter(status="firing", rule_name="Device offline").count() == 6
