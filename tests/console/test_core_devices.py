"""The device list, the device page and the actions on a device."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from tests.console.test_core_dashboard import make_alert, make_check
from tests.server.conftest import make_device

from steward.alerts.models import Alert, CheckDefinition
from steward.audit.models import AuditEntry
from steward.inventory import services
from steward.inventory.models import Device, StatusChange
from steward.tenancy.models import Site

pytestmark = pytest.mark.django_db

REPORT = {
    "hostname": "acme-ws-01",
    "fqdn": "acme-ws-01.acme.example",
    "agent_version": "0.1.0",
    "os": {
        "family": "linux",
        "name": "Debian GNU/Linux",
        "version": "12",
        "kernel": "6.1.0-28-amd64",
        "arch": "x86_64",
    },
    "cpu": {
        "model": "Intel(R) Xeon(R) E-2224",
        "physical_cores": 4,
        "logical_cores": 8,
        "max_mhz": 4600.0,
    },
    "memory": {"total_bytes": 8 * 2**30, "swap_total_bytes": 2**30},
    "disks": [
        {
            "name": "nvme0n1",
            "size_bytes": 512 * 10**9,
            "model": "Samsung SSD 980",
            "serial": "S64DNX0R",
            "rotational": False,
        }
    ],
    "partitions": [
        {
            "device": "/dev/nvme0n1p2",
            "mountpoint": "/",
            "fstype": "ext4",
            "total_bytes": 100 * 2**30,
            "used_bytes": 93 * 2**30,
            "free_bytes": 7 * 2**30,
        },
        {
            "device": "/dev/nvme0n1p1",
            "mountpoint": "/boot/efi",
            "fstype": "vfat",
            "total_bytes": 512 * 2**20,
            "used_bytes": 6 * 2**20,
            "free_bytes": 506 * 2**20,
        },
    ],
    "network": [
        {
            "name": "eth0",
            "mac": "52:54:00:12:34:56",
            "is_up": True,
            "speed_mbps": 1000,
            "mtu": 1500,
            "addresses": [
                {"family": "ipv4", "address": "10.0.0.5", "netmask": "255.255.255.0"},
                {"family": "ipv6", "address": "fe80::5054:ff:fe12:3456", "netmask": None},
            ],
        }
    ],
    "hardware": {
        "vendor": "Dell Inc.",
        "model": "OptiPlex 7080",
        "serial": "ABC123",
        "bios_version": "1.2.3",
    },
    "boot_time": "2026-11-20T08:00:00Z",
    "users": [
        {
            "name": "alice",
            "terminal": "pts/0",
            "host": "10.0.0.9",
            "started": "2026-11-29T03:00:00Z",
        }
    ],
}
SOFTWARE = [
    {"name": "openssl", "version": "3.0.15-1~deb12u1", "arch": "amd64", "source": "dpkg"},
    {"name": "openssh-server", "version": "1:9.2p1-2", "arch": "amd64", "source": "dpkg"},
    {"name": "bash", "version": "5.2.15-2", "arch": "amd64", "source": "dpkg"},
]


@pytest.fixture
def inventoried(world) -> Device:
    services.apply_inventory(world.acme_device, REPORT, SOFTWARE)  # also marks it online
    return Device.objects.get(pk=world.acme_device.pk)


def hostnames(response) -> list[str]:
    return [d.hostname for d in response.context["page_obj"]]


# --- the list ----------------------------------------------------------------------------


def test_list_shows_only_the_callers_devices(client, world):
    client.force_login(world.viewer)
    response = client.get("/devices/")
    assert response.status_code == 200
    assert hostnames(response) == ["acme-ws-01"]
    assert b"globex-srv-01" not in response.content


def test_list_shows_status_and_last_seen(client, world, inventoried):
    client.force_login(world.viewer)
    content = client.get("/devices/").content.decode()
    assert 'class="status status-online">Online<' in content
    assert "ago" in content or "now" in content
    assert f'datetime="{inventoried.last_seen.isoformat()}"' in content


def test_list_searches_host_names(client, world):
    make_device(world.acme_hq, "acme-db-01")
    make_device(world.acme_hq, "acme-db-02", display_name="Billing DB")
    client.force_login(world.viewer)
    assert hostnames(client.get("/devices/?q=db")) == ["acme-db-01", "acme-db-02"]
    assert hostnames(client.get("/devices/?q=billing")) == ["acme-db-02"]


def test_list_filters_by_status(client, world):
    make_device(world.acme_hq, "online-1", last_seen=timezone.now())
    make_device(world.acme_hq, "revoked-1", revoked_at=timezone.now())
    client.force_login(world.viewer)
    assert hostnames(client.get("/devices/?status=online")) == ["online-1"]
    assert hostnames(client.get("/devices/?status=offline")) == ["acme-ws-01"]
    assert hostnames(client.get("/devices/?status=revoked")) == ["revoked-1"]
    assert hostnames(client.get("/devices/")) == ["acme-ws-01", "online-1"]  # not revoked


def test_list_filters_by_site_tag_and_os(client, world):
    branch = Site.objects.create(organization=world.acme, name="Branch")
    tagged = make_device(branch, "branch-01", os_name="Windows 11 Pro", os_family="windows")
    services.set_tags(tagged, ["kiosk"])
    client.force_login(world.viewer)
    assert hostnames(client.get(f"/devices/?site_id={branch.pk}")) == ["branch-01"]
    assert hostnames(client.get("/devices/?tag=kiosk")) == ["branch-01"]
    assert hostnames(client.get("/devices/?os=windows")) == ["branch-01"]
    page = client.get("/devices/").content.decode()
    assert '<option value="kiosk">kiosk</option>' in page
    assert "Windows 11 Pro</option>" in page


def test_list_sorts_by_column(client, world):
    make_device(world.acme_hq, "zulu", last_seen=timezone.now() - timedelta(hours=1))
    make_device(world.acme_hq, "alpha", last_seen=timezone.now())
    client.force_login(world.viewer)
    assert hostnames(client.get("/devices/?sort=-hostname")) == ["zulu", "alpha", "acme-ws-01"]
    assert hostnames(client.get("/devices/?sort=-last_seen"))[:2] == ["alpha", "zulu"]
    content = client.get("/devices/?sort=hostname").content.decode()
    assert 'aria-sort="ascending"' in content
    assert "?sort=-hostname" in content  # clicking the sorted column reverses it


def test_list_paginates(client, world):
    for i in range(60):
        make_device(world.acme_hq, f"host-{i:03d}")
    client.force_login(world.viewer)
    first = client.get("/devices/")
    assert len(hostnames(first)) == 50
    assert b"Page 1 of 2" in first.content
    second = client.get("/devices/?page=2")
    assert len(hostnames(second)) == 11
    assert len(hostnames(client.get("/devices/?per_page=100"))) == 61
    assert len(hostnames(client.get("/devices/?per_page=7"))) == 50  # not an offered size
    assert client.get("/devices/?page=999").status_code == 200  # last page, not an error


def test_list_keeps_filters_in_page_links(client, world):
    for i in range(55):
        make_device(world.acme_hq, f"db-{i:03d}")
    client.force_login(world.viewer)
    content = client.get("/devices/?q=db").content.decode()
    assert 'href="?q=db&amp;page=2"' in content


def test_list_says_when_nothing_matches(client, world):
    client.force_login(world.viewer)
    assert b"No device matches these filters" in client.get("/devices/?q=nothing").content


def test_list_escapes_what_devices_report(client, world):
    make_device(world.acme_hq, "<script>alert(1)</script>")
    client.force_login(world.viewer)
    content = client.get("/devices/").content
    assert b"<script>alert(1)</script>" not in content
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in content


def test_list_narrows_to_the_organization_chosen_in_the_switcher(client, world):
    client.force_login(world.superuser)
    assert set(hostnames(client.get("/devices/"))) == {"acme-ws-01", "globex-srv-01"}
    client.post("/organization/", {"organization": world.globex.pk, "next": "/devices/"})
    assert hostnames(client.get("/devices/")) == ["globex-srv-01"]


# --- the "Alerts" column: firing alerts and failing checks per device --------------------


def problems(response) -> dict[str, tuple[int, str, int]]:
    """Host name -> (firing alerts, the most severe one's severity, failing checks)."""
    return {
        d.hostname: (d.problems.firing, d.problems.severity, d.problems.failing_checks)
        for d in response.context["page_obj"]
    }


def problems_cell(content: str, device: Device) -> str:
    """The "Alerts" cell of the device's row."""
    row = content.split(f'href="/devices/{device.pk}/"', 1)[1]
    return row.split('data-col="problems">', 1)[1].split("</td>", 1)[0]


def test_list_shows_firing_alerts_and_failing_checks_per_device(client, world):
    busy = world.acme_device
    info_only = make_device(world.acme_hq, "acme-ws-02")
    quiet = make_device(world.acme_hq, "acme-ws-03")
    make_alert(busy, "warning")
    make_alert(busy, "info", phase="pending")  # the Firing tab includes pending
    make_alert(busy, "info", phase="flapping")
    for phase in ("acknowledged", "snoozed", "muted", "resolved"):
        make_alert(busy, "critical", phase=phase)  # not firing: neither counted nor "worst"
    make_alert(info_only, "info")
    make_check(world.acme, "disk", "critical", busy)
    make_check(world.acme, "load", "warning", busy)
    make_check(world.acme, "sshd", "ok", busy)
    make_check(world.acme, "ntp", "unknown", busy)
    make_check(world.acme, "old", "critical", busy, enabled=False)
    make_check(world.acme, "website", "critical")  # server-side: no device
    client.force_login(world.viewer)
    response = client.get("/devices/")
    assert problems(response) == {
        "acme-ws-01": (3, "warning", 2),
        "acme-ws-02": (1, "info", 0),
        "acme-ws-03": (0, "", 0),
    }
    content = response.content.decode()
    cell = problems_cell(content, busy)
    assert 'class="status status-warning">Warning<' in cell
    assert "3 firing" in cell
    assert 'aria-label="Warning: the most severe of 3 firing alerts"' in cell
    assert f'href="/alerts/?tab=firing&amp;device={busy.pk}"' in cell
    assert f'href="/alerts/checks/?status=failing&amp;device={busy.pk}"' in cell
    assert "2 failing checks" in cell
    cell = problems_cell(content, info_only)
    assert 'class="status status-info">Info<' in cell and "1 firing" in cell
    assert "failing check" not in cell
    assert problems_cell(content, quiet).strip() == (
        '<span class="muted" title="No firing alerts, no failing checks">—</span>'
    )


def test_the_most_severe_firing_alert_gives_the_badge(client, world):
    device = world.acme_device
    make_alert(device, "info")
    make_alert(device, "warning")
    make_alert(device, "critical", phase="pending")
    make_alert(device, "warning")
    client.force_login(world.viewer)
    response = client.get("/devices/")
    assert problems(response)["acme-ws-01"] == (4, "critical", 0)
    cell = problems_cell(response.content.decode(), device)
    assert cell.count('class="status') == 1
    assert 'class="status status-critical">Critical<' in cell


def test_the_column_counts_what_the_lists_it_links_to_show(client, world):
    device = world.acme_device
    make_alert(device, "critical")
    make_alert(device, "warning", phase="pending")
    make_alert(device, "critical", phase="acknowledged")
    make_alert(make_device(world.acme_hq, "acme-ws-02"), "critical")
    make_check(world.acme, "disk", "critical", device)
    make_check(world.acme, "sshd", "ok", device)
    make_check(world.acme, "load", "warning", make_device(world.acme_hq, "acme-ws-03"))
    client.force_login(world.technician)
    found = client.get("/devices/").context["page_obj"][0].problems
    assert (found.firing, found.failing_checks) == (2, 1)
    alerts = client.get(f"/alerts/?tab=firing&device={device.pk}")
    assert alerts.context["page_obj"].paginator.count == found.firing
    checks = client.get(f"/alerts/checks/?status=failing&device={device.pk}")
    assert len(checks.context["items"]) == found.failing_checks


def test_a_revoked_devices_checks_are_not_failing(client, world):
    # As on the checks list's ?status=failing: a revoked device never reports again.
    world.acme_device.revoked_at = timezone.now()
    world.acme_device.save()
    make_check(world.acme, "disk", "critical", world.acme_device)
    client.force_login(world.viewer)
    assert problems(client.get("/devices/?status=revoked"))["acme-ws-01"] == (0, "", 0)


def test_another_organizations_alerts_and_checks_never_count(client, world):
    make_alert(world.globex_device, "critical")
    make_check(world.globex, "disk", "critical", world.globex_device)
    # Rows of another organization that name an Acme device (they should not exist, and
    # must not show if they do).
    stray = make_alert(world.acme_device, "critical")
    Alert.objects.filter(pk=stray.pk).update(organization=world.globex)
    check = make_check(world.acme, "stray", "critical", world.acme_device).definition
    CheckDefinition.objects.filter(pk=check.pk).update(organization=world.globex)
    client.force_login(world.viewer)
    response = client.get("/devices/")
    assert problems(response) == {"acme-ws-01": (0, "", 0)}
    assert "—" in problems_cell(response.content.decode(), world.acme_device)
    # Someone in both organizations sees each device with its own organization's rows.
    client.force_login(world.superuser)
    assert problems(client.get("/devices/")) == {
        "acme-ws-01": (0, "", 0),
        "globex-srv-01": (1, "critical", 1),
    }


# --- the device page ---------------------------------------------------------------------


def test_device_page_shows_the_inventory(client, world, inventoried):
    StatusChange.objects.create(
        device=inventoried, status="offline", at=timezone.now() - timedelta(days=1)
    )
    client.force_login(world.viewer)
    response = client.get(f"/devices/{inventoried.pk}/")
    assert response.status_code == 200
    content = response.content.decode()
    for expected in (
        "acme-ws-01.acme.example",
        "Debian GNU/Linux 12",
        "6.1.0-28-amd64",
        "Intel(R) Xeon(R) E-2224",
        "8.0 GiB",
        "Dell Inc.",
        "OptiPlex 7080",
        "ABC123",
        "1.2.3",
        "/boot/efi",
        "/dev/nvme0n1p2",
        "93.0 GiB",
        "Samsung SSD 980",
        "SSD",
        "eth0",
        "10.0.0.5",
        "fe80::5054:ff:fe12:3456",
        "52:54:00:12:34:56",
        "1 Gb/s",
        "alice",
        "pts/0",
        "openssl",
        "3.0.15-1~deb12u1",
        "Acme",
        "HQ",
        "0.1.0",
    ):
        assert expected in content, expected
    assert 'class="status status-critical">full<' in content  # / is 93% used
    assert '<meter min="0" max="100"' in content
    assert 'class="status status-online">Online<' in content  # now, and in the history


def test_device_page_without_inventory_says_so(client, world):
    client.force_login(world.viewer)
    content = client.get(f"/devices/{world.acme_device.pk}/").content
    assert b"has not sent an inventory yet" in content
    assert b"No file systems reported" in content


def test_another_organizations_device_is_not_found(client, world):
    client.force_login(world.technician)
    for path in ("", "software/", "edit/", "revoke/", "delete/"):
        assert client.get(f"/devices/{world.globex_device.pk}/{path}").status_code == 404
    assert client.post(f"/devices/{world.globex_device.pk}/revoke/").status_code == 404
    assert Device.objects.get(pk=world.globex_device.pk).revoked_at is None


def test_requester_cannot_see_devices(client, world):
    client.force_login(world.requester)
    assert hostnames(client.get("/devices/")) == []
    assert client.get(f"/devices/{world.acme_device.pk}/").status_code == 404


def test_viewer_sees_no_actions_and_is_refused_them(client, world):
    client.force_login(world.viewer)
    pk = world.acme_device.pk
    content = client.get(f"/devices/{pk}/").content.decode()
    for action in ("edit", "revoke", "delete"):
        assert f"/devices/{pk}/{action}/" not in content
    response = client.post(f"/devices/{pk}/edit/", {"display_name": "x", "site": world.acme_hq.pk})
    assert response.status_code == 403
    assert client.post(f"/devices/{pk}/revoke/").status_code == 403
    assert client.post(f"/devices/{pk}/delete/").status_code == 403
    assert client.get(f"/devices/{pk}/edit/").status_code == 403
    device = Device.objects.get(pk=pk)
    assert device.display_name == "" and device.revoked_at is None


def test_technician_edits_a_device(client, world):
    branch = Site.objects.create(organization=world.acme, name="Branch")
    client.force_login(world.technician)
    pk = world.acme_device.pk
    assert b"Edit" in client.get(f"/devices/{pk}/").content
    response = client.post(
        f"/devices/{pk}/edit/",
        {
            "display_name": "Reception PC",
            "site": branch.pk,
            "tags": "front-desk, windows ,  ",
            "notes": "Behind the plant.",
        },
    )
    assert response["Location"] == f"/devices/{pk}/"
    device = Device.objects.get(pk=pk)
    assert device.display_name == "Reception PC"
    assert device.site == branch
    assert sorted(t.name for t in device.tags.all()) == ["front-desk", "windows"]
    entry = AuditEntry.objects.filter(object_type="inventory.device", action="update").first()
    assert entry is not None and entry.actor == world.technician and entry.source == "console"


def test_a_device_cannot_move_to_another_organizations_site(client, world):
    client.force_login(world.superuser)
    pk = world.acme_device.pk
    response = client.post(f"/devices/{pk}/edit/", {"site": world.globex_site.pk, "tags": ""})
    assert response.status_code == 200
    assert b"errorlist" in response.content
    assert Device.objects.get(pk=pk).site == world.acme_hq


def test_overlong_tags_are_refused(client, world):
    client.force_login(world.technician)
    response = client.post(
        f"/devices/{world.acme_device.pk}/edit/", {"site": world.acme_hq.pk, "tags": "x" * 65}
    )
    assert b"at most 64 characters" in response.content


def test_technician_revokes_a_device_after_confirming(client, world):
    client.force_login(world.technician)
    pk = world.acme_device.pk
    confirm = client.get(f"/devices/{pk}/revoke/")
    assert confirm.status_code == 200
    assert Device.objects.get(pk=pk).revoked_at is None  # GET changes nothing
    assert client.post(f"/devices/{pk}/revoke/")["Location"] == f"/devices/{pk}/"
    assert Device.objects.get(pk=pk).revoked_at is not None
    assert b"status-revoked" in client.get(f"/devices/{pk}/").content


def test_only_admins_delete_devices(client, world):
    pk = world.acme_device.pk
    client.force_login(world.technician)
    assert b"/delete/" not in client.get(f"/devices/{pk}/").content
    assert client.post(f"/devices/{pk}/delete/").status_code == 403
    client.force_login(world.admin)
    assert client.get(f"/devices/{pk}/delete/").status_code == 200
    assert client.post(f"/devices/{pk}/delete/")["Location"] == "/devices/"
    assert not Device.objects.filter(pk=pk).exists()


def test_software_page_searches_by_name(client, world, inventoried):
    client.force_login(world.viewer)
    response = client.get(f"/devices/{inventoried.pk}/software/?q=open")
    assert response.status_code == 200
    names = [s.name for s in response.context["page_obj"]]
    assert names == ["openssh-server", "openssl"]
    assert [
        s.name for s in client.get(f"/devices/{inventoried.pk}/software/").context["page_obj"]
    ] == ["bash", "openssh-server", "openssl"]


# --- dashboard and shell -----------------------------------------------------------------


def test_dashboard_counts_devices_by_status(client, world, inventoried):
    make_device(world.acme_hq, "gone", revoked_at=timezone.now())
    make_device(world.acme_hq, "quiet")
    StatusChange.objects.create(device=world.acme_device, status="offline")
    client.force_login(world.viewer)
    response = client.get("/")
    assert response.status_code == 200
    assert response.context["counts"] == {"online": 1, "offline": 1, "revoked": 1}
    sites = list(response.context["sites"])
    assert [(s.name, s.online, s.total) for s in sites] == [("HQ", 1, 2)]
    assert [c.device.hostname for c in response.context["recent_offline"]] == ["acme-ws-01"]
    assert b"globex" not in response.content.lower()


def test_shell_has_navigation_switcher_and_sign_out(client, world):
    client.force_login(world.admin)
    content = client.get("/devices/").content.decode()
    assert 'href="#main"' in content  # skip link
    assert 'aria-current="page"' in content
    assert 'action="/logout/"' in content
    assert 'action="/organization/"' in content
    assert "All organizations" in content
    for url in (
        "/settings/sites/",
        "/settings/users/",
        "/settings/enrollment-tokens/",
        "/settings/api-tokens/",
        "/settings/audit/",
        "/settings/organizations/",
    ):
        assert f'href="{url}"' in content, url
    assert "Alerts" in content and 'aria-disabled="true"' in content


def test_viewers_do_not_see_management_links(client, world):
    client.force_login(world.viewer)
    content = client.get("/devices/").content.decode()
    assert 'href="/settings/users/"' not in content
    assert 'href="/settings/audit/"' not in content


def test_switcher_refuses_an_organization_the_user_is_not_in(client, world):
    client.force_login(world.viewer)
    response = client.post(
        "/organization/", {"organization": world.globex.pk, "next": "/"}, follow=True
    )
    assert b"not available to you" in response.content
    assert "steward_org_id" not in client.session
    client.post("/organization/", {"organization": world.acme.pk})
    assert client.session["steward_org_id"] == world.acme.pk
    client.post("/organization/", {"organization": ""})
    assert "steward_org_id" not in client.session


def test_switcher_does_not_redirect_off_site(client, world):
    client.force_login(world.viewer)
    response = client.post("/organization/", {"organization": "", "next": "https://evil.example"})
    assert response["Location"] == "/"


def test_not_found_and_forbidden_pages_are_console_pages(client, world):
    from steward.console.common import SESSION_ORG_KEY  # noqa: F401 - the module under test

    client.force_login(world.viewer)
    missing = client.get("/devices/999999/")
    assert missing.status_code == 404
    assert b"Not found" in missing.content and b"steward.css" in missing.content
    forbidden = client.post(f"/devices/{world.acme_device.pk}/revoke/")
    assert forbidden.status_code == 403
    assert b"Not allowed" in forbidden.content
