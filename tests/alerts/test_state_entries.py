"""The engine state as stored: a small core document plus one row per entry, written
entry by entry (runtime._write_entries); what one process writes, another reads back."""

from __future__ import annotations

import time

import pytest

from steward.alerting import Engine
from steward.alerts import config, hooks, runtime
from steward.alerts.models import Alert, EngineEntry, EngineState
from tests.server.conftest import make_device

pytestmark = pytest.mark.django_db


def entries(world) -> dict[tuple[str, str], dict]:
    rows = EngineEntry.objects.filter(organization=world.acme)
    return {(r.kind, r.key): r.data for r in rows}


def test_a_round_writes_only_the_entries_it_changed(world):
    t0 = time.time()
    devices = [make_device(world.acme_hq, f"pos-{i:02}") for i in range(4)]
    for d in devices:
        hooks.on_device_contact(d, at=t0)
    row = EngineState.objects.get(organization=world.acme)
    assert "devices" not in row.data and "series" not in row.data
    stored = entries(world)
    assert len([k for k in stored if k[0] == "devices"]) == 4
    before = {k: r.pk for k, r in _rows(world).items()}
    hooks.on_device_contact(devices[0], at=t0 + 5)
    after = entries(world)
    changed = [k for k in after if after[k] != stored[k]]
    assert len(changed) == 1 and changed[0][0] == "devices"
    assert after[changed[0]]["last_seen"] == pytest.approx(t0 + 5)
    assert {k: r.pk for k, r in _rows(world).items()} == before  # updated in place


def _rows(world):
    return {(r.kind, r.key): r for r in EngineEntry.objects.filter(organization=world.acme)}


def test_another_process_reads_the_entries_back(world):
    t0 = time.time()
    hooks.on_device_contact(world.acme_device, at=t0)
    runtime._engines.clear()  # as a process that never saw this organization
    runtime.tick(world.acme.pk, t0 + 121)
    assert Alert.objects.filter(status="firing", rule_name="Device offline").count() == 1
    runtime._engines.clear()
    hooks.on_device_contact(world.acme_device, at=t0 + 130)
    assert Alert.objects.get(rule_name="Device offline").status == "resolved"


def test_a_whole_state_document_is_moved_into_entries_by_the_next_round(world):
    t0 = time.time()
    hooks.on_device_contact(world.acme_device, at=t0)
    row = EngineState.objects.get(organization=world.acme)
    cfg = config.get(world.acme.pk, row.config_version)
    engine = runtime._load(world.acme.pk, cfg)
    # As an older version stored it: one document, no entries.
    EngineState.objects.filter(pk=row.pk).update(data=engine.to_dict())
    EngineEntry.objects.filter(organization=world.acme).delete()
    runtime._engines.clear()
    runtime.tick(world.acme.pk, t0 + 1)
    row.refresh_from_db()
    assert "devices" not in row.data
    assert [k for k in entries(world) if k[0] == "devices"]
    again = runtime._load(world.acme.pk, cfg)
    assert again.state.devices == engine.state.devices
    runtime._engines.clear()
    runtime.tick(world.acme.pk, t0 + 121)
    assert Alert.objects.filter(status="firing", rule_name="Device offline").exists()


def test_entries_belong_to_their_organization(world):
    hooks.on_device_contact(world.acme_device, at=time.time())
    hooks.on_device_contact(world.globex_device, at=time.time())
    version = EngineState.objects.get(organization=world.acme).config_version
    acme = runtime._load(world.acme.pk, config.get(world.acme.pk, version))
    assert isinstance(acme, Engine)
    assert [t.labels["device"] for t in acme.state.devices.values()] == ["acme-ws-01"]
