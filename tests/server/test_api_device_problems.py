"""``GET /api/v1/devices`` and ``/devices/{id}``: each device's firing alerts and failing
checks, counted as the console's device list counts them (``steward.alerts.problems``)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from steward.alerts.models import Alert, CheckDefinition
from tests.console.test_core_dashboard import make_alert, make_check
from tests.server.conftest import make_device

pytestmark = pytest.mark.django_db


def listed(api, user, path: str = "devices") -> dict[str, tuple[int, str, int]]:
    body = api.as_(user).get(path).json()
    return {
        d["hostname"]: (d["firing_alerts"], d["alert_severity"], d["failing_checks"])
        for d in body["items"]
    }


def test_each_device_has_its_firing_alerts_and_failing_checks(api, world):
    busy = world.acme_device
    quiet = make_device(world.acme_hq, "acme-ws-02")
    make_alert(busy, "warning")
    make_alert(busy, "info", phase="pending")  # the Firing tab includes pending ...
    make_alert(busy, "info", phase="flapping")  # ... and flapping
    for phase in ("acknowledged", "snoozed", "muted", "resolved"):
        make_alert(busy, "critical", phase=phase)  # neither counted nor the most severe
    make_check(world.acme, "disk", "critical", busy)
    make_check(world.acme, "load", "warning", busy)
    make_check(world.acme, "sshd", "ok", busy)
    make_check(world.acme, "ntp", "unknown", busy)
    make_check(world.acme, "old", "critical", busy, enabled=False)
    make_check(world.acme, "website", "critical")  # no device
    assert listed(api, world.viewer) == {
        "acme-ws-01": (3, "warning", 2),
        "acme-ws-02": (0, "", 0),
    }
    detail = api.as_(world.viewer).get(f"devices/{busy.pk}").json()
    assert (detail["firing_alerts"], detail["alert_severity"], detail["failing_checks"]) == (
        3,
        "warning",
        2,
    )
    assert api.as_(world.viewer).get(f"devices/{quiet.pk}").json()["firing_alerts"] == 0


def test_the_most_severe_firing_alert_names_the_severity(api, world):
    make_alert(world.acme_device, "info")
    make_alert(world.acme_device, "critical", phase="pending")
    make_alert(world.acme_device, "warning")
    assert listed(api, world.viewer)["acme-ws-01"] == (3, "critical", 0)


def test_the_count_matches_the_alerts_api_for_the_firing_tabs_phases(api, world):
    device = world.acme_device
    make_alert(device, "critical")
    make_alert(device, "warning", phase="pending")
    make_alert(device, "critical", phase="acknowledged")
    make_alert(device, "critical", phase="resolved")
    firing = listed(api, world.technician)["acme-ws-01"][0]
    alerts = api.as_(world.technician).get(f"alerts?device_id={device.pk}&limit=500").json()
    assert alerts["count"] == 4
    assert firing == sum(a["phase"] in ("pending", "firing", "flapping") for a in alerts["items"])
    assert firing == 2


def test_a_revoked_devices_checks_are_not_failing(api, world):
    world.acme_device.revoked_at = timezone.now()
    world.acme_device.save()
    make_check(world.acme, "disk", "critical", world.acme_device)
    assert listed(api, world.viewer, "devices?status=revoked") == {"acme-ws-01": (0, "", 0)}


def test_another_organizations_rows_never_count(api, world):
    make_alert(world.globex_device, "critical")
    make_check(world.globex, "disk", "critical", world.globex_device)
    # Rows of another organization that name an Acme device must not add to it.
    stray = make_alert(world.acme_device, "critical")
    Alert.objects.filter(pk=stray.pk).update(organization=world.globex)
    check = make_check(world.acme, "stray", "critical", world.acme_device).definition
    CheckDefinition.objects.filter(pk=check.pk).update(organization=world.globex)
    assert listed(api, world.viewer) == {"acme-ws-01": (0, "", 0)}
    assert listed(api, world.outsider) == {"globex-srv-01": (1, "critical", 1)}
    assert listed(api, world.superuser) == {
        "acme-ws-01": (0, "", 0),
        "globex-srv-01": (1, "critical", 1),
    }


def test_a_page_costs_two_queries_more_however_many_devices(api, world):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert api.as_(world.viewer).get("devices").status_code == 200
        return len(captured)

    make_alert(world.acme_device, "critical")
    few = queries()
    for i in range(12):
        device = make_device(world.acme_hq, f"host-{i:02d}")
        make_alert(device, "warning")
        make_check(world.acme, f"disk-{i}", "critical", device)
    assert queries() == few
