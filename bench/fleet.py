"""Fleet overview (``/metrics/``) speed with a simulated fleet in the real store.

    .venv/bin/python bench/fleet.py [--devices 1000] [--minutes 60] [--loads 10] [--profile]

Fills a fresh database and metrics store (SQLite in a temporary STEWARD_HOME, or the
PostgreSQL database of STEWARD_DATABASE_URL, store in its ``tsdb`` schema) with DEVICES
simulated hosts (``steward.simulate.host``: ~80 series each — per-core CPU modes, memory,
load, filesystems, disk and network counters — plus one series of each other family of
the agent's table, ~130 series of 77 families a host) at 10 s for the last MINUTES, appended
straight to the store (series ids resolved once, then ``append_resolved`` rows). 2 % of
the devices went offline 30 minutes ago (their series stop then).

Then times the page through Django's test client, signed in as a member of the fleet's
organization: LOADS loads with every cache cleared before each ("cold": what the first
viewer after a change waits) and LOADS loads in a row ("warm"), median and p95 of the
wall time and of the server-side time the page reports in its footer. ``--profile``
prints the top functions of the first load (the process's caches all empty).
"""

from __future__ import annotations

import argparse
import cProfile
import math
import os
import pstats
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]
OWN_HOME = "STEWARD_HOME" not in os.environ  # a temporary one, removed at the end
os.environ.setdefault("STEWARD_HOME", tempfile.mkdtemp(prefix="steward-bench-"))
os.environ.setdefault("STEWARD_LOG_LEVEL", "warning")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "steward.server.settings")

OFFLINE_SHARE = 0.02
ROUNDS_PER_APPEND = 30


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]


def fill(org, devices, minutes: int) -> int:
    """Append ``minutes`` of 10 s rounds of every device's simulated series; sample count."""
    from steward.agent.metrics.families import BY_NAME
    from steward.metrics.ingest import device_labels, metric_type
    from steward.metrics.store import get_store
    from steward.simulate.host import SimHost
    from steward.tsdb.types import Sample, SeriesMetadata

    store = get_store()
    now = time.time()
    start = float(int(now) - int(now) % 10 - minutes * 60)
    offline_from = now - 1800
    hosts = [SimHost(i) for i in range(len(devices))]
    base = [device_labels(d, org.slug) for d in devices]
    sids: list[list[int]] = []
    families: set[str] = set()
    # Round 0 as labelled samples: registers every series; later rounds are id rows.
    samples = []
    for host, labels in zip(hosts, base, strict=True):
        host.start(start)
        for (family, extra), value in host.samples():
            families.add(family)
            samples.append(
                Sample({"__name__": family, **labels, **dict(extra)}, int(start * 1000), value)
            )
    # The families the simulator does not model (disk latency, TCP, processes, sensors,
    # SMART...): one series each per host, so the store holds every family an agent sends.
    extra = [f for f in BY_NAME.values() if f.name not in families]
    for labels in base:
        for f in extra:
            names = {k: "0" for k in f.labels}
            samples.append(Sample({"__name__": f.name, **labels, **names}, int(start * 1000), 1.0))
    families.update(f.name for f in extra)
    store.append(org.pk, samples)
    index = 0
    for host in hosts:
        row = []
        for _ in host.samples():
            sid = store.series_id(org.pk, samples[index].labels)  # type: ignore[attr-defined]
            assert sid is not None
            row.append(sid)
            index += 1
        sids.append(row)
    fillers = []  # (sid, is_counter)
    for sample in samples[index:]:
        sid = store.series_id(org.pk, sample.labels)  # type: ignore[attr-defined]
        assert sid is not None
        fillers.append((sid, BY_NAME[sample.labels["__name__"]].type == "counter"))
    store.set_metadata(
        org.pk,
        [
            SeriesMetadata(f, metric_type(BY_NAME[f].type), BY_NAME[f].unit, BY_NAME[f].help)
            for f in sorted(families)
            if f in BY_NAME
        ],
    )
    total = len(samples)
    offline = {i for i in range(len(hosts)) if i % round(1 / OFFLINE_SHARE) == 7}
    rows: list[tuple[int, int, float]] = []
    # Up to the present, however long the filling takes: the page reads the last minutes.
    k = 0
    while start + 10 * (k + 1) <= time.time():
        k += 1
        t = start + 10 * k
        ms = int(t * 1000)
        for i, host in enumerate(hosts):
            if i in offline and t > offline_from:
                continue
            host.step(t)
            rows.extend(
                (sid, ms, value) for sid, (_, value) in zip(sids[i], host.samples(), strict=True)
            )
            mine = fillers[i * len(extra) : (i + 1) * len(extra)]
            rows.extend((sid, ms, 1.0 + k * counter) for sid, counter in mine)
        if k % ROUNDS_PER_APPEND == 0 or start + 10 * (k + 1) > time.time():
            store.append_resolved(org.pk, rows)  # type: ignore[attr-defined]
            total += len(rows)
            rows = []
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--minutes", type=int, default=60)
    parser.add_argument("--loads", type=int, default=10)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()

    import django

    django.setup()
    from datetime import timedelta

    from django.conf import settings
    from django.core.cache import cache
    from django.core.management import call_command
    from django.test import Client
    from django.test.utils import setup_test_environment
    from django.utils import timezone

    from steward.accounts.models import User
    from steward.inventory.models import Device
    from steward.metrics.store import get_store
    from steward.tenancy.models import Membership, Organization, Site

    setup_test_environment()  # response.context, for the page's own timing
    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    call_command("migrate", verbosity=0)
    org = Organization.objects.create(name="Bench fleet")
    other = Organization.objects.create(name="Other customer")
    sites = [Site.objects.create(organization=org, name=f"Site {i}") for i in range(10)]
    Site.objects.create(organization=other, name="Elsewhere")
    user = User.objects.create_user("bench@example.test", "bench-password-123")
    Membership.objects.create(user=user, organization=org, role="viewer")
    now = timezone.now()
    step = round(1 / OFFLINE_SHARE)
    Device.objects.bulk_create(
        [
            Device(
                organization=org,
                site=sites[i % len(sites)],
                hostname=f"sim-{i:04d}",
                os_name="Debian GNU/Linux",
                os_version="12",
                credential_hash=f"bench-{i}",
                last_seen=now,
            )
            for i in range(args.devices)
        ],
        batch_size=1000,
    )
    devices = list(Device.objects.filter(organization=org).order_by("hostname"))
    t0 = time.perf_counter()
    samples = fill(org, devices, args.minutes)
    took = time.perf_counter() - t0
    # Heartbeats went on while the store filled: the offline ones stopped 30 minutes ago.
    Device.objects.filter(organization=org).update(last_seen=timezone.now())
    Device.objects.filter(pk__in=[d.pk for d in devices[7::step]]).update(
        last_seen=timezone.now() - timedelta(minutes=30)
    )
    print(
        f"{engine}: {args.devices} devices, {samples:,} samples ({args.minutes} min at 10 s) "
        f"stored in {took:.0f} s"
    )

    client = Client()
    client.force_login(user)

    def load() -> tuple[float, float]:
        t = time.perf_counter()
        response = client.get("/metrics/")
        wall = (time.perf_counter() - t) * 1000
        assert response.status_code == 200, response.status_code
        return wall, response.context["elapsed_ms"]

    cache.clear()
    profiler = cProfile.Profile()
    if args.profile:
        profiler.enable()
    first = load()
    profiler.disable()
    ctx = client.get("/metrics/").context
    print(
        f"page: {len(ctx['cpu'])} CPU rows, {len(ctx['memory'])} memory rows, "
        f"{len(ctx['filesystems'])} filesystem rows, {ctx['reporting']} reporting, "
        f"{ctx['counts']['offline']} offline; first load {first[0]:.0f} ms"
    )
    for label, clear in (("cold", True), ("warm", False)):
        walls, servers = [], []
        for _ in range(args.loads):
            if clear:
                cache.clear()
            wall, server = load()
            walls.append(wall)
            servers.append(server)
        print(
            f"  {label}: wall p50 {statistics.median(walls):7.1f} ms  p95 {p95(walls):7.1f} ms"
            f"   |  page's own time p50 {statistics.median(servers):7.1f} ms"
            f"  p95 {p95(servers):7.1f} ms"
        )
    if args.profile:
        stats = pstats.Stats(profiler)
        stats.sort_stats("cumulative").print_stats(45)
        stats.sort_stats("tottime").print_stats(15)
    get_store().close()  # type: ignore[attr-defined]
    if OWN_HOME:
        shutil.rmtree(os.environ["STEWARD_HOME"], ignore_errors=True)


if __name__ == "__main__":
    main()
