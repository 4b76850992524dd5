"""The console in a real browser: sign in, find a device, read its inventory.

Drives the system Chromium through Playwright against pytest-django's live server. Set
STEWARD_SCREENSHOTS=/some/dir to keep the screenshots for a design review; they are always
written to the test's tmp_path.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from tests.server.conftest import PASSWORD, make_device

from steward.inventory import services
from steward.inventory.models import Device, StatusChange
from steward.tenancy.models import Site

pytestmark = pytest.mark.browser

VIEWPORT = {"width": 1440, "height": 900}

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
        "model": "Intel(R) Core(TM) i5-10500 CPU @ 3.10GHz",
        "physical_cores": 6,
        "logical_cores": 12,
        "max_mhz": 4500.0,
    },
    "memory": {"total_bytes": 16 * 2**30, "swap_total_bytes": 2 * 2**30},
    "disks": [
        {
            "name": "nvme0n1",
            "size_bytes": 512110190592,
            "model": "Samsung SSD 980 PRO",
            "serial": "S5GXNX0R123456",
            "rotational": False,
        },
        {
            "name": "sda",
            "size_bytes": 2000398934016,
            "model": "WDC WD20EZBX",
            "serial": "WD-WX12A3456789",
            "rotational": True,
        },
    ],
    "partitions": [
        {
            "device": "/dev/nvme0n1p2",
            "mountpoint": "/",
            "fstype": "ext4",
            "total_bytes": 490 * 2**30,
            "used_bytes": 201 * 2**30,
            "free_bytes": 289 * 2**30,
        },
        {
            "device": "/dev/nvme0n1p1",
            "mountpoint": "/boot/efi",
            "fstype": "vfat",
            "total_bytes": 512 * 2**20,
            "used_bytes": 6 * 2**20,
            "free_bytes": 506 * 2**20,
        },
        {
            "device": "/dev/sda1",
            "mountpoint": "/srv/backup",
            "fstype": "xfs",
            "total_bytes": 1800 * 2**30,
            "used_bytes": 1530 * 2**30,
            "free_bytes": 270 * 2**30,
        },
        {
            "device": "/dev/mapper/vg-var",
            "mountpoint": "/var",
            "fstype": "ext4",
            "total_bytes": 40 * 2**30,
            "used_bytes": 38 * 2**30,
            "free_bytes": 2 * 2**30,
        },
    ],
    "network": [
        {
            "name": "eno1",
            "mac": "3c:ec:ef:12:34:56",
            "is_up": True,
            "speed_mbps": 1000,
            "mtu": 1500,
            "addresses": [
                {"family": "ipv4", "address": "10.20.0.15", "netmask": "255.255.255.0"},
                {"family": "ipv6", "address": "fe80::3eec:efff:fe12:3456", "netmask": None},
            ],
        },
        {
            "name": "wlp2s0",
            "mac": "a4:c3:f0:aa:bb:cc",
            "is_up": False,
            "speed_mbps": None,
            "mtu": 1500,
            "addresses": [],
        },
        {
            "name": "lo",
            "mac": None,
            "is_up": True,
            "speed_mbps": None,
            "mtu": 65536,
            "addresses": [{"family": "ipv4", "address": "127.0.0.1", "netmask": "255.0.0.0"}],
        },
    ],
    "hardware": {
        "vendor": "Dell Inc.",
        "model": "OptiPlex 7080",
        "serial": "7XK2LM3",
        "bios_version": "1.24.0",
    },
    "boot_time": "2026-11-20T08:00:00Z",
    "users": [
        {"name": "alice", "terminal": "tty2", "host": None, "started": "2026-11-29T03:00:00Z"},
        {
            "name": "bob",
            "terminal": "pts/0",
            "host": "10.20.0.9",
            "started": "2026-11-29T04:10:00Z",
        },
    ],
}
SOFTWARE = [
    {"name": name, "version": version, "arch": "amd64", "source": "dpkg"}
    for name, version in [
        ("bash", "5.2.15-2+b7"),
        ("coreutils", "9.1-1"),
        ("curl", "7.88.1-10+deb12u8"),
        ("firefox-esr", "128.5.0esr-1~deb12u1"),
        ("libreoffice-core", "4:7.4.7-1+deb12u5"),
        ("openssh-client", "1:9.2p1-2+deb12u3"),
        ("openssl", "3.0.15-1~deb12u1"),
        ("python3", "3.11.2-1+b1"),
        ("rsync", "3.2.7-1"),
        ("sudo", "1.9.13p3-1+deb12u1"),
        ("systemd", "252.31-1~deb12u1"),
        ("vim", "2:9.0.1378-2"),
        ("zstd", "1.5.4+dfsg2-5"),
    ]
]


def populate(world) -> Device:
    """A small, varied estate, so the pages look like a real one."""
    now = timezone.now()
    branch = Site.objects.create(organization=world.acme, name="Branch Office")
    lab = Site.objects.create(organization=world.acme, name="Lab")
    systems = [
        ("Debian GNU/Linux", "12", "linux"),
        ("Ubuntu", "24.04", "linux"),
        ("Windows 11 Pro", "23H2", "windows"),
        ("macOS", "15.1", "macos"),
    ]
    for i in range(24):
        name, version, family = systems[i % 4]
        site = (world.acme_hq, branch, lab)[i % 3]
        seen = now - timedelta(seconds=5) if i % 5 else now - timedelta(hours=i + 1)
        device = make_device(
            site,
            f"{('ws', 'srv', 'lt')[i % 3]}-{i + 2:02d}",
            last_seen=seen,
            os_name=name,
            os_version=version,
            os_family=family,
            agent_version="0.1.0",
            revoked_at=now - timedelta(days=2) if i == 23 else None,
        )
        services.set_tags(device, [["finance"], ["server", "backup"], [], ["kiosk"]][i % 4])
        if i % 5 == 0:
            StatusChange.objects.create(device=device, status="offline", at=seen)
    device = world.acme_device
    services.apply_inventory(device, REPORT, SOFTWARE)
    services.set_tags(device, ["finance", "floor-2"])
    device.display_name = "Reception PC"
    device.save()
    StatusChange.objects.create(device=device, status="offline", at=now - timedelta(days=1))
    return device


def open_page(browser, color_scheme: str = "light"):
    context = browser.new_context(viewport=VIEWPORT, color_scheme=color_scheme)
    context.set_default_timeout(10_000)  # a local server answers in milliseconds
    return context, context.new_page()


def sign_in(page, base_url: str, email: str) -> None:
    page.goto(f"{base_url}/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base_url}/")


def test_sign_in_find_a_device_and_read_its_inventory(
    transactional_db, live_server, world, browser, shots
):
    from playwright.sync_api import expect

    device = populate(world)
    context, page = open_page(browser, "light")

    page.goto(f"{live_server.url}/login/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    shots(page, "login")

    sign_in(page, live_server.url, "tech@acme.test")
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    shots(page, "dashboard")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Devices").click()
    expect(page.get_by_role("heading", name="Devices")).to_be_visible()
    row = page.get_by_role("row").filter(has_text="Reception PC")
    expect(row.locator(".status")).to_have_text("Online")
    expect(row).to_contain_text("acme-ws-01")
    shots(page, "devices-light")

    row.get_by_role("link", name="Reception PC").click()
    expect(page.get_by_role("heading", name="Reception PC")).to_be_visible()
    expect(page.get_by_text("10.20.0.15")).to_be_visible()
    expect(page.get_by_text("Debian GNU/Linux 12").first).to_be_visible()
    expect(page.get_by_text("/srv/backup")).to_be_visible()
    expect(page.get_by_role("link", name="Edit")).to_be_visible()  # technician
    assert page.url == f"{live_server.url}/devices/{device.pk}/"
    shots(page, "device")

    # Choosing an organization in the top bar submits at once (and passes the CSRF check).
    with page.expect_navigation():
        page.get_by_label("Organization").select_option(label="Acme")
    assert page.url == f"{live_server.url}/devices/{device.pk}/"
    page.reload()  # the choice is kept in the session, not only in the form
    expect(page.get_by_label("Organization")).to_have_value(str(world.acme.pk))

    # The theme toggle pins a theme, and the choice survives a reload.
    page.get_by_role("button", name="Colour theme: automatic (change)").click()
    expect(page.locator("html")).to_have_attribute("data-theme", "light")
    page.get_by_role("button", name="Colour theme: light (change)").click()
    page.reload()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    context.close()


def test_dark_theme_follows_the_system(transactional_db, live_server, world, browser, shots):
    from playwright.sync_api import expect

    device = populate(world)
    context, page = open_page(browser, "dark")
    sign_in(page, live_server.url, "admin@acme.test")
    page.goto(f"{live_server.url}/devices/")
    expect(page.get_by_role("row").filter(has_text="Reception PC")).to_be_visible()
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(14, 19, 25)"  # --bg, dark
    shots(page, "devices-dark")
    page.goto(f"{live_server.url}/devices/{device.pk}/")
    shots(page, "device-dark")
    page.goto(f"{live_server.url}/")
    shots(page, "dashboard-dark")
    context.close()


def test_viewer_sees_no_device_actions(transactional_db, live_server, world, browser):
    from playwright.sync_api import expect

    context, page = open_page(browser)
    sign_in(page, live_server.url, "viewer@acme.test")
    page.goto(f"{live_server.url}/devices/{world.acme_device.pk}/")
    expect(page.get_by_role("heading", name="acme-ws-01")).to_be_visible()
    expect(page.get_by_role("link", name="Edit")).to_have_count(0)
    expect(page.get_by_role("link", name="Revoke")).to_have_count(0)
    context.close()


def test_required_two_factor_is_set_up_in_the_browser(
    transactional_db, live_server, world, browser, shots
):
    import pyotp
    from playwright.sync_api import expect

    world.acme.require_2fa = True
    world.acme.save()
    context, page = open_page(browser, "light")

    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Email").fill("tech@acme.test")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong email or password.")
    shots(page, "login-error")

    # Signed in, but every page leads to the setup until a code proves the app works.
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/account/2fa/setup/")
    page.goto(f"{live_server.url}/devices/")
    page.wait_for_url(f"{live_server.url}/account/2fa/setup/")
    expect(page.get_by_role("img", name="QR code for your authenticator app")).to_be_visible()
    shots(page, "totp-setup")

    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    page.get_by_label("Authentication code").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Turn on two-factor authentication").click()
    page.wait_for_url(f"{live_server.url}/")
    expect(page.get_by_role("status").first).to_contain_text("Two-factor authentication is on")

    page.goto(f"{live_server.url}/account/")
    expect(page.get_by_role("heading", name="Account & security")).to_be_visible()
    shots(page, "account")
    page.goto(f"{live_server.url}/devices/{world.acme_device.pk}/edit/")
    expect(page.get_by_label("Display name")).to_be_visible()
    shots(page, "device-edit")

    page.locator(".user-menu summary").click()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{live_server.url}/login/")
    page.get_by_label("Email").fill("tech@acme.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/login/2fa/")
    shots(page, "login-2fa")
    context.close()
