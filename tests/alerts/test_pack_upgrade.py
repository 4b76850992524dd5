"""Rules a release adds to the default pack appear in existing organizations, once."""

from __future__ import annotations

import pytest

from steward.alerts import defaults, runtime
from steward.alerts.models import AlertRule, EngineState

pytestmark = pytest.mark.django_db
NEW_KEYS = {"filesystem-predicted-full", "memory-leak", "disk-failing", "cpu-anomaly"}


def test_an_upgrade_adds_the_new_pack_rules_and_respects_deletions(world):
    org = world.acme.pk
    runtime.state_row(org)
    runtime.state_row(world.globex.pk)
    # As an organization set up by the previous release: without the new rules.
    AlertRule.objects.filter(organization_id=org, pack_key__in=NEW_KEYS).delete()
    row = EngineState.objects.get(organization_id=org)
    row.pack_keys = sorted(set(row.pack_keys) - NEW_KEYS)
    row.save()
    AlertRule.objects.filter(organization_id=org, pack_key="tls-expiring").delete()  # theirs
    runtime.forget()

    assert defaults.ensure_all() == len(NEW_KEYS)
    keys = set(AlertRule.objects.filter(organization_id=org).values_list("pack_key", flat=True))
    assert keys >= NEW_KEYS
    assert "tls-expiring" not in keys  # deleted by the user: stays deleted
    assert not AlertRule.objects.get(organization_id=org, pack_key="cpu-anomaly").enabled
    assert defaults.ensure_all() == 0
