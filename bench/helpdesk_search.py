"""Help desk speed at size: full-text search and the ticket list with 100,000 tickets.

Creates the tickets (with two replies each) in a throw-away SQLite database, or in the
PostgreSQL database of STEWARD_DATABASE_URL (use an empty, disposable one), then prints
the median and p95 latency of ``search()`` over varied queries and of the first page of
GET /api/v1/tickets (plain, filtered, and with ``q``). Target: search < 200 ms.

    .venv/bin/python bench/helpdesk_search.py [--tickets 100000] [--rounds 20]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("STEWARD_HOME", tempfile.mkdtemp(prefix="steward-bench-"))
os.environ.setdefault("STEWARD_LOG_LEVEL", "warning")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "steward.server.settings")

WORDS = [
    "printer",
    "scanner",
    "laptop",
    "monitor",
    "keyboard",
    "mouse",
    "vpn",
    "wifi",
    "network",
    "email",
    "outlook",
    "teams",
    "password",
    "login",
    "account",
    "license",
    "backup",
    "disk",
    "memory",
    "cpu",
    "slow",
    "crash",
    "freeze",
    "error",
    "update",
    "driver",
    "install",
    "server",
    "share",
    "folder",
    "permission",
    "phone",
    "headset",
    "camera",
    "meeting",
    "calendar",
    "invoice",
    "report",
    "excel",
    "word",
    "browser",
    "chrome",
    "certificate",
    "firewall",
    "router",
    "switch",
    "cable",
    "battery",
    "charger",
    "dock",
    "screen",
    "flicker",
    "noise",
    "fan",
    "overheating",
    "reboot",
    "blue",
    "toner",
    "paper",
    "jam",
]
QUERIES = [
    "printer",
    "vpn disconnect",
    "password reset",
    "outlook crash",
    "disk",
    "toner jam",
    "certificate error",
    "slow laptop",
    "screen flicker",
    "backup failed",
    "wifi",
    "excel",
    "firewall router",
    "blue screen",
    "zzzunmatched",
    "inv",
    "meeting camera",
    "license",
]


def text(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()

    import django
    from django.conf import settings

    if "steward.helpdesk" not in settings.INSTALLED_APPS:  # until the lead wires the app
        settings.INSTALLED_APPS = [*settings.INSTALLED_APPS, "steward.helpdesk"]
    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from steward.accounts.models import ApiToken, User
    from steward.helpdesk import search
    from steward.helpdesk.models import Reply, SearchDocument, Ticket, TicketCounter
    from steward.tenancy.models import Membership, Organization
    from steward.tenancy.scoping import Principal

    call_command("migrate", verbosity=0)
    rng = random.Random(42)
    orgs = [Organization.objects.create(name=f"Bench {i}") for i in range(10)]
    user = User.objects.create_user("bench@example.test", "bench-password-123")
    requester = User.objects.create_user("req@example.test", "bench-password-123")
    for org in orgs:
        Membership.objects.create(user=user, organization=org, role="technician")
    Membership.objects.create(user=requester, organization=orgs[0], role="requester")
    now = timezone.now()
    started = time.perf_counter()
    statuses = ["new", "open", "pending", "resolved", "closed"]
    batch = 5000
    for first in range(0, args.tickets, batch):
        tickets = [
            Ticket(
                organization=orgs[i % 10],
                number=i // 10 + 1,
                subject=text(rng, 5),
                description=text(rng, 40),
                requester=requester if i % 10 == 0 and i % 7 == 0 else user,
                status=statuses[i % 5],
                priority=f"P{i % 4 + 1}",
                created_at=now - timedelta(minutes=i),
            )
            for i in range(first, min(first + batch, args.tickets))
        ]
        Ticket.objects.bulk_create(tickets, batch_size=1000)
        tickets = list(Ticket.objects.order_by("-id")[: len(tickets)])
        Reply.objects.bulk_create(
            [
                Reply(ticket=t, author=user, body=text(rng, 30), public=k == 0)
                for t in tickets
                for k in range(2)
            ],
            batch_size=2000,
        )
    for org in orgs:
        TicketCounter.objects.create(organization=org, last_number=args.tickets // 10 + 1)
    created = time.perf_counter() - started
    started = time.perf_counter()
    docs = search.reindex(batch=5000)
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO helpdesk_fts(helpdesk_fts) VALUES ('optimize')")
            cursor.execute("ANALYZE")
    else:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    print(
        f"{connection.vendor}: {args.tickets} tickets, {Reply.objects.count()} replies "
        f"in {created:.1f} s; indexed {docs} documents in {time.perf_counter() - started:.1f} s"
    )
    assert SearchDocument.objects.count() == docs

    def measure(label: str, fn) -> None:
        times = []
        for _ in range(args.rounds):
            for q in QUERIES:
                t0 = time.perf_counter()
                fn(q)
                times.append((time.perf_counter() - t0) * 1000)
        print(
            f"  {label:<38} median {statistics.median(times):7.1f} ms   "
            f"p95 {percentile(times, 0.95):7.1f} ms   (n={len(times)})"
        )

    staff, req = Principal(user=user), Principal(user=requester)
    print("search() over tickets, replies and articles, 20 best:")
    measure("technician (10 organizations)", lambda q: search.search(staff, q))
    measure("requester (own tickets, public)", lambda q: search.search(req, q))

    from tests.helpdesk import urls  # serves the router until api/v1 mounts it

    if not urls.MOUNTED:
        settings.ROOT_URLCONF = "tests.helpdesk.urls"
    _, secret = ApiToken.issue(user, "bench")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")

    def page(url: str):
        response = client.get(url)
        assert response.status_code == 200, response.content[:300]

    print("GET /api/v1/tickets first page (50):")
    for label, url in [
        ("all", "/api/v1/tickets"),
        ("status=active, priority=P1", "/api/v1/tickets?status=active&priority=P1"),
        ("assignee=unassigned", "/api/v1/tickets?assignee=unassigned"),
    ]:
        times = []
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            page(url)
            times.append((time.perf_counter() - t0) * 1000)
        print(
            f"  {label:<38} median {statistics.median(times):7.1f} ms   "
            f"p95 {percentile(times, 0.95):7.1f} ms"
        )
    measure("q=<query> (full-text filter)", lambda q: page(f"/api/v1/tickets?q={q}"))


if __name__ == "__main__":
    main()
