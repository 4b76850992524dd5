"""Inventory reports: stored when valid; refused whole, changing nothing, when not."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime

import pytest
from django.test import override_settings

from steward.inventory.models import Device, InstalledSoftware

pytestmark = pytest.mark.django_db

REPORT = {
    "agent_version": "0.1.0",
    "hostname": "ws-42",
    "fqdn": "ws-42.acme.test",
    "os": {
        "family": "linux",
        "name": "Debian GNU/Linux",
        "version": "12",
        "kernel": "6.1.0-28-amd64",
        "arch": "x86_64",
    },
    "cpu": {"model": "Test CPU", "physical_cores": 2, "logical_cores": 4, "max_mhz": 3000.0},
    "memory": {"total_bytes": 8 * 2**30, "swap_total_bytes": 2**30},
    "disks": [
        {
            "name": "sda",
            "size_bytes": 256 * 10**9,
            "model": "SSD",
            "serial": "S1",
            "rotational": False,
        }
    ],
    "partitions": [
        {
            "device": "/dev/sda1",
            "mountpoint": "/",
            "fstype": "ext4",
            "total_bytes": 100,
            "used_bytes": 40,
            "free_bytes": 60,
        }
    ],
    "network": [
        {
            "name": "eth0",
            "mac": "52:54:00:12:34:56",
            "is_up": True,
            "speed_mbps": 1000,
            "mtu": 1500,
            "addresses": [{"family": "ipv4", "address": "10.0.0.5", "netmask": "255.255.255.0"}],
        }
    ],
    "hardware": {
        "vendor": "Dell Inc.",
        "model": "OptiPlex",
        "serial": "ABC123",
        "bios_version": "1.2",
    },
    "boot_time": "2026-11-20T08:00:00+00:00",
    "users": [
        {"name": "alice", "terminal": "pts/0", "host": None, "started": "2026-11-29T03:00:00+00:00"}
    ],
    "software": [
        {"name": "openssl", "version": "3.0.15", "arch": "amd64", "source": "dpkg"},
        {"name": "bash", "version": "5.2", "arch": "amd64", "source": "dpkg"},
    ],
}


def report(**changes) -> dict:
    body = copy.deepcopy(REPORT)
    body["sent_at"] = datetime.now(UTC).isoformat()
    body.update(changes)
    return body


@pytest.fixture
def auth(api, world, enrollment_secret):
    body = (
        api.as_(None)
        .post(
            "agent/enroll",
            {
                "token": enrollment_secret,
                "hostname": "ws-42",
                "machine_id": "m-42",
            },
        )
        .json()
    )
    return {"HTTP_AUTHORIZATION": f"Bearer {body['credential']}"}


def send(api, auth, body):
    return api.as_(None).post("agent/inventory", body, **auth)


def test_a_valid_report_is_stored(api, auth, world):
    response = send(api, auth, report())
    assert response.status_code == 200, response.content
    assert response.json() == {"accepted": True, "software_count": 2}
    device = Device.objects.get(hostname="ws-42")
    assert device.os_name == "Debian GNU/Linux" and device.cpu_threads == 4
    assert device.hw_serial == "ABC123"
    assert device.inventory["partitions"][0]["mountpoint"] == "/"
    assert sorted(device.software.values_list("name", flat=True)) == ["bash", "openssl"]
    # Visible through the people API as the device's inventory.
    detail = api.as_(world.viewer).get(f"devices/{device.pk}").json()
    assert detail["inventory"]["network"][0]["mac"] == "52:54:00:12:34:56"


def test_a_new_report_replaces_the_software_list(api, auth):
    send(api, auth, report())
    send(api, auth, report(software=[{"name": "zsh", "version": "5.9", "source": "dpkg"}]))
    assert list(InstalledSoftware.objects.values_list("name", flat=True)) == ["zsh"]


@pytest.mark.parametrize(
    ("mutation", "field"),
    [
        ({"hostname": ""}, "hostname"),
        ({"hostname": "x" * 300}, "hostname"),
        ({"os": {"family": "beos"}}, "os.family"),
        ({"memory": {"total_bytes": -1}}, "memory.total_bytes"),
        ({"memory": {"total_bytes": "8GB"}}, "memory.total_bytes"),
        ({"software": [{"name": "x", "version": "1", "source": "npm"}]}, "software.0.source"),
        ({"boot_time": "yesterday"}, "boot_time"),
        ({"sent_at": "2026-11-29T04:30:00"}, "sent_at"),  # no time zone
    ],
)
def test_malformed_reports_get_a_422_naming_the_field_and_change_nothing(
    api, auth, mutation, field
):
    assert send(api, auth, report()).status_code == 200
    before = Device.objects.values().get(hostname="ws-42")
    response = send(api, auth, report(**mutation))
    assert response.status_code == 422, response.content
    assert response.json()["detail"].startswith(field)
    after = Device.objects.values().get(hostname="ws-42")
    assert {k: v for k, v in after.items() if k != "last_seen"} == {
        k: v for k, v in before.items() if k != "last_seen"
    }
    assert InstalledSoftware.objects.count() == 2


def test_too_many_packages_is_refused(api, auth):
    software = [{"name": f"p{i}", "version": "1", "source": "dpkg"} for i in range(20_001)]
    response = send(api, auth, report(software=software))
    assert response.status_code in (413, 422)


def test_oversized_body_gets_413_before_parsing(api, auth):
    with override_settings(
        STEWARD={**__import__("django.conf").conf.settings.STEWARD, "agent_max_body": 1000}
    ):
        response = send(api, auth, report())
    assert (response.status_code, response.json()["code"]) == (413, "too_large")


def test_body_that_is_not_json_gets_a_clear_error(api, auth):
    response = api.client.post(
        "/api/v1/agent/inventory", data="{not json", content_type="application/json", **auth
    )
    assert 400 <= response.status_code < 500
    assert "detail" in json.loads(response.content)


def test_a_credential_reports_only_for_its_own_device(api, auth, world):
    # The body names another host: the report still lands on the credential's device.
    send(api, auth, report(hostname="globex-srv-01"))
    world.globex_device.refresh_from_db()
    assert world.globex_device.os_name == ""
    assert Device.objects.filter(organization=world.acme, hostname="globex-srv-01").exists()
