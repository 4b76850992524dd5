"""The worker's every-second tick skips an organization with nothing due (runtime.tick):
no state read, no write, so it no longer invalidates the server's cached engine. What is
due still happens on time: deadlines, a silence ending, a rule change, housekeeping."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from steward.alerts import hooks, runtime
from steward.alerts.models import Alert, EngineState, Outbox, Silence

from .test_engine_plumbing import check_on, fail, silence_device

pytestmark = pytest.mark.django_db


def version(world) -> int:
    return EngineState.objects.get(organization=world.acme).version


def test_a_tick_with_nothing_due_writes_nothing_and_deadlines_still_fire(world, monkeypatch):
    monkeypatch.setattr(runtime, "HOUSEKEEPING_S", 3600.0)  # only the deadline may wake it
    t0 = time.time()
    hooks.on_device_contact(world.acme_device, at=t0)
    row = EngineState.objects.get(organization=world.acme)
    assert row.next_due is not None and t0 < row.next_due <= t0 + 3600
    runtime.tick(world.acme.pk, t0 + 1)  # this process's first tick runs in full
    before = version(world)
    runtime.tick(world.acme.pk, t0 + 2)
    runtime.tick(world.acme.pk, t0 + 3)
    assert version(world) == before
    runtime.tick(world.acme.pk, row.next_due)  # the device-offline deadline
    assert version(world) > before
    assert Alert.objects.filter(status="firing", rule_name="Device offline").count() == 1


def test_a_deadline_written_by_another_process_is_honoured(world, monkeypatch):
    monkeypatch.setattr(runtime, "HOUSEKEEPING_S", 3600.0)  # only the deadline may wake it
    t0 = time.time()
    runtime.tick(world.acme.pk, t0)
    runtime.tick(world.acme.pk, t0 + 1)
    before = version(world)
    # A contact arrives through the server (another process: only the row tells).
    hooks.on_device_contact(world.acme_device, at=t0 + 1)
    due = EngineState.objects.get(organization=world.acme).next_due
    runtime._engines.clear()
    runtime.tick(world.acme.pk, due - 1)
    assert version(world) == before + 1  # only the contact's round
    runtime.tick(world.acme.pk, due)
    assert Alert.objects.filter(status="firing", rule_name="Device offline").exists()


def test_the_end_of_a_silence_pages_at_the_next_tick(world):
    t0 = time.time()
    silence_device(world, t0, 10)
    fail(check_on(world), t0)
    runtime.tick(world.acme.pk, t0 + 1)
    runtime.tick(world.acme.pk, t0 + 5)
    assert not Outbox.objects.filter(kind="notify").exists()
    runtime.tick(world.acme.pk, t0 + 10.5)  # well within HOUSEKEEPING_S of the last tick
    assert Outbox.objects.filter(kind="notify").count() == 1


def test_a_rule_change_and_housekeeping_make_the_tick_run(world):
    t0 = time.time()
    runtime.tick(world.acme.pk, t0)
    before = version(world)
    runtime.tick(world.acme.pk, t0 + 1)
    assert version(world) == before
    Silence.objects.create(organization=world.acme, name="later", matchers=['device="x"'],
                           starts_at=datetime.fromtimestamp(t0 + 3600, UTC),
                           ends_at=datetime.fromtimestamp(t0 + 7200, UTC))  # fmt: skip
    runtime.tick(world.acme.pk, t0 + 2)  # the config changed
    assert version(world) == before + 1
    runtime.tick(world.acme.pk, t0 + 3)
    assert version(world) == before + 1
    runtime.tick(world.acme.pk, t0 + 2 + runtime.HOUSEKEEPING_S)
    assert version(world) == before + 2
