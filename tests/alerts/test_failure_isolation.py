"""A failure midway loses nothing: one bad input, heartbeat or evaluation does not take
the others down, and stored state never says the engine heard what it did not."""

from __future__ import annotations

import contextlib
import time
from datetime import UTC, datetime, timedelta

import pytest

from steward.alerting import Engine, Heartbeat
from steward.alerts import heartbeats, runtime
from steward.alerts import labels as label_cache
from steward.alerts.models import Alert, HeartbeatCheck
from steward.checks.heartbeat import PingKind
from tests.server.conftest import make_device

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def firing() -> list[str]:
    return sorted(Alert.objects.filter(status="firing").values_list("rule_name", flat=True))


def beat(world, name: str) -> HeartbeatCheck:
    return HeartbeatCheck.objects.create(
        organization=world.acme, name=name, period_s=3600, grace_s=600
    )


def test_a_heartbeat_whose_engine_call_failed_pages_on_the_next_run(world, monkeypatch):
    backup = beat(world, "nightly backup")
    heartbeats.record_ping(backup, PingKind.SUCCESS, now=T0)
    real = runtime.observe

    def down(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(runtime, "observe", down)
    with contextlib.suppress(RuntimeError):  # (logged or raised: the engine never heard)
        heartbeats.evaluate_due(T0 + timedelta(minutes=71))
    monkeypatch.setattr(runtime, "observe", real)
    assert firing() == []
    heartbeats.evaluate_due(T0 + timedelta(minutes=72))
    assert firing() == ["Heartbeat late"]


def test_one_failing_heartbeat_does_not_stop_the_others(world, monkeypatch):
    first, second = beat(world, "a backup"), beat(world, "b export")
    for b in (first, second):
        heartbeats.record_ping(b, PingKind.SUCCESS, now=T0)
    real = heartbeats.hooks.on_heartbeat_state

    def flaky(b, *args, **kwargs):
        if b.pk == first.pk:
            raise RuntimeError("boom")
        return real(b, *args, **kwargs)

    monkeypatch.setattr(heartbeats.hooks, "on_heartbeat_state", flaky)
    assert heartbeats.evaluate_due(T0 + timedelta(minutes=71)) >= 1
    labels = Alert.objects.filter(status="firing").values_list("labels", flat=True)
    assert [lab["heartbeat"] for lab in labels] == ["b export"]
    first.refresh_from_db()
    assert first.status != "down"  # not stored as told: it is judged (and paged) again


def test_a_bad_input_does_not_take_the_batch_down(world, monkeypatch):
    t0 = time.time()
    good, bad = make_device(world.acme_hq, "pos-good"), make_device(world.acme_hq, "pos-bad")
    org = world.acme.pk
    real = Engine._store_heartbeat

    def store(self, h):
        if h.labels.get("device") == "pos-bad":
            raise ValueError("corrupt heartbeat")
        return real(self, h)

    monkeypatch.setattr(Engine, "_store_heartbeat", store)
    batch = [Heartbeat(dict(label_cache.device(org, d.pk).labels), t0, True) for d in (bad, good)]
    runtime.observe(org, batch)
    runtime.tick(org, t0 + 121)
    devices = [lab["device"] for lab in Alert.objects.values_list("labels", flat=True)]
    assert devices == ["pos-good"]


def test_one_organization_failing_setup_does_not_stop_the_tick_of_the_others(world, monkeypatch):
    from steward.alerts import defaults, hooks, jobs
    from steward.tenancy.models import Organization

    t0 = time.time()
    hooks.on_device_contact(world.acme_device, at=t0)
    broken = Organization.objects.create(name="Initech")  # gets the pack on the next tick
    real = defaults.ensure_default_rules

    def ensure(org):
        if (org if isinstance(org, int) else org.pk) == broken.pk:
            raise RuntimeError("bad row")
        return real(org)

    monkeypatch.setattr(defaults, "ensure_default_rules", ensure)
    jobs.tick(t0 + 121)
    assert firing() == ["Device offline"]


def test_a_malformed_result_does_not_take_the_agents_batch_down(world):
    import json

    from django.test import Client

    from steward.alerts.models import CheckDefinition, CheckStatus
    from tests.alerts.conftest import device_auth

    checks = [
        CheckDefinition.objects.create(
            organization=world.acme,
            device=world.acme_device,
            name=f"check {i}",
            type="process",
            target="sshd",
        )
        for i in range(3)
    ]
    at = datetime.now(UTC).isoformat()
    bad_perf = [{"name": "load", "value": [1, 2]}]  # not a number
    body = {
        "results": [
            {
                "check_id": c.pk,
                "status": "critical",
                "observed_at": at,
                "perfdata": bad_perf if i == 1 else [],
            }
            for i, c in enumerate(checks)
        ]
    }
    response = Client().post(
        "/api/v1/agent/check-results",
        json.dumps(body),
        content_type="application/json",
        **device_auth(world.acme_device),
    )
    # A 500 made the agent post the whole batch again and again: the results before the
    # bad one were counted once per retry, those after it never.
    assert response.status_code == 200, response.content
    assert response.json() == {"accepted": 2, "unknown_checks": [checks[1].pk]}
    recorded = CheckStatus.objects.values_list("definition_id", flat=True)
    assert sorted(recorded) == [checks[0].pk, checks[2].pk]


def test_a_stored_rule_that_no_longer_builds_does_not_silence_the_organization(world):
    """A row saved by an older release (or edited in the database) that the engine now
    rejects made the whole configuration fail: no rule of the organization ran."""
    from steward.alerts import config, hooks
    from steward.alerts.models import AlertRule, MaintenanceWindow

    t0 = time.time()
    runtime.state_row(world.acme.pk)
    broken = AlertRule.objects.create(
        organization=world.acme,
        name="Old rule",
        condition={"kind": "threshold", "metric": "cpu", "op": ">", "threshold": 90},
    )
    AlertRule.objects.filter(pk=broken.pk).update(
        condition={"kind": "threshold", "metric": "cpu", "op": "~", "threshold": 90}
    )
    MaintenanceWindow.objects.create(
        organization=world.acme,
        name="gone zone",
        matchers=['device="x"'],
        timezone="Mars/Olympus",
        slots=[{"days": [0], "start": "01:00", "end": "02:00"}],
    )
    config.bump(world.acme.pk)
    hooks.on_device_contact(world.acme_device, at=t0)
    runtime.tick(world.acme.pk, t0 + 121)
    assert firing() == ["Device offline"]


def test_a_result_posted_again_is_not_counted_twice(world):
    """An agent re-posts a batch whose answer it did not get (a 500 after some results were
    recorded, a lost connection): counted again, one failure became a hard state and paged."""
    from steward.alerts.models import CheckDefinition
    from steward.alerts.results import record
    from steward.checks import CheckResult, Status

    check = CheckDefinition.objects.create(
        organization=world.acme,
        device=world.acme_device,
        name="sshd running",
        type="process",
        target="sshd",
        retries=1,
    )
    result = CheckResult(Status.CRITICAL, "down", observed_at=datetime.now(UTC))
    assert record(check, result).soft
    status = record(check, result)
    assert (status.status, status.soft, status.attempt) == ("ok", True, 1)
    assert firing() == []


def test_inputs_of_a_round_that_failed_are_kept_for_the_next_one(world, monkeypatch):
    """A thread arriving while another runs the organization's round hands its inputs over
    and returns; when that round failed (database error), they were dropped unseen."""
    t0 = time.time()
    org = world.acme.pk
    runtime.state_row(org)
    handed_over = Heartbeat(dict(label_cache.device(org, world.acme_device.pk).labels), t0, True)
    with runtime._cache_lock:  # as if another request had queued it and returned
        runtime._pending.setdefault(org, []).append(handed_over)
    real, calls = runtime._run_locked, []

    def once_down(*args):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("database went away")
        return real(*args)

    monkeypatch.setattr(runtime, "_run_locked", once_down)
    other = make_device(world.acme_hq, "pos-other")
    mine = Heartbeat(dict(label_cache.device(org, other.pk).labels), t0, True)
    with contextlib.suppress(RuntimeError):
        runtime.observe(org, [mine])
    runtime.observe(org, [mine])  # the next input's round takes them along
    runtime.tick(org, t0 + 121)
    devices = sorted(lab["device"] for lab in Alert.objects.values_list("labels", flat=True))
    assert devices == ["acme-ws-01", "pos-other"]
