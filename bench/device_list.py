"""Device list speed at fleet size: API and console pages with 10,000 devices.

Prints the median and p95 time to serve the first page, a filtered page and a deep page,
through Django's test client against a real SQLite (or STEWARD_DATABASE_URL) database.

    .venv/bin/python bench/device_list.py [--devices 10000] [--rounds 30]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("STEWARD_HOME", tempfile.mkdtemp(prefix="steward-bench-"))
os.environ.setdefault("STEWARD_LOG_LEVEL", "warning")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "steward.server.settings")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()

    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client
    from django.utils import timezone

    from steward.accounts import tokens
    from steward.accounts.models import ApiToken, User
    from steward.inventory.models import Device
    from steward.tenancy.models import Membership, Organization, Site

    call_command("migrate", verbosity=0)
    org = Organization.objects.create(name="Bench")
    sites = [Site.objects.create(organization=org, name=f"Site {i}") for i in range(20)]
    user = User.objects.create_user("bench@example.test", "bench-password-123")
    Membership.objects.create(user=user, organization=org, role="admin")
    now = timezone.now()
    started = time.perf_counter()
    Device.objects.bulk_create(
        [
            Device(
                organization=org,
                site=sites[i % 20],
                hostname=f"host-{i:05d}",
                os_name="Debian GNU/Linux",
                os_version="12",
                credential_hash=tokens.hash_secret(f"bench-{i}"),
                last_seen=now if i % 3 else None,
            )
            for i in range(args.devices)
        ],
        batch_size=2000,
    )
    print(f"created {args.devices} devices in {time.perf_counter() - started:.1f} s")
    _, secret = ApiToken.issue(user, "bench")
    api = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    console = Client()
    console.force_login(user)

    cases = {
        "api first page (100)": (api, "/api/v1/devices?limit=100"),
        "api search 'host-09'": (api, "/api/v1/devices?q=host-09&limit=100"),
        "api online, deep page": (
            api,
            f"/api/v1/devices?status=online&limit=100&offset={max(0, args.devices // 2)}",
        ),
        "console first page": (console, "/devices/"),
        "console filtered": (console, f"/devices/?status=offline&site_id={sites[3].pk}"),
        "console last page": (console, "/devices/?page=last"),
    }
    print(f"{'case':28} {'median ms':>10} {'p95 ms':>8}")
    for name, (client, url) in cases.items():
        times = []
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - t0) * 1000)
            assert response.status_code == 200, (url, response.status_code)
        times.sort()
        p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
        print(f"{name:28} {statistics.median(times):10.1f} {p95:8.1f}")


if __name__ == "__main__":
    main()
