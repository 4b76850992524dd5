"""Help desk speed at size: full-text search and the ticket list with 100,000 tickets.

Creates the tickets (with two replies each) in a throw-away SQLite database, or in the
database of STEWARD_DATABASE_URL (use an empty, disposable one: PostgreSQL, or
``sqlite:///path``), then prints the median and p95 latency of ``search()`` and of the
first page of GET /api/v1/tickets (plain, filtered, and with ``q``). Target: search and
``q`` < 200 ms, the plain first page < 100 ms.

Two query mixes. "worst": the synthetic text uses only 60 distinct words, so a common word
matches about half of the 300,000 documents. "realistic": what people type into a help
desk search: a host name, a person, an error code, another system's reference (ACME-1234),
a ticket number, a rare word, a prefix. The text carries these too (a reporter name, a host,
sometimes an error code or reference), so they match tens to thousands of documents.

A database that already holds ``--tickets`` tickets is reused as it is (iterate on queries
without rebuilding: ``STEWARD_DATABASE_URL=sqlite:////tmp/hd.sqlite3``).

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
from urllib.parse import urlencode

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
WORST = [
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


FIRST = ["maria", "james", "li", "fatima", "olga", "kenji", "amara", "lucas", "priya", "noah"]
FIRST += ["sofia", "omar", "elena", "david", "aisha", "mateo", "yuki", "hannah", "ivan", "zoe"]
LAST = ["lopez", "smith", "chen", "khan", "novak", "tanaka", "okafor", "silva", "patel", "berg"]
LAST += ["rossi", "haddad", "petrov", "garcia", "nguyen", "muller", "kowalski", "dubois"]
CODES = [f"0x8007{n:04x}" for n in range(0, 40, 2)]
REALISTIC = [
    "srv0421",  # a host name: ~30 tickets
    "maria lopez",  # a person: ~0.3% of tickets
    "ACME-1234",  # another system's reference: "acme" is common, "1234*" rare
    "0x80070012",  # an error code: 5% of tickets mention one of 20
    "kowalski",  # a surname
    "srv04",  # a prefix (typing): ~300 tickets
    "4521",  # a ticket number (the list also matches the number)
    "printer srv0099",  # common word + rare one
    "olga outlook",  # a name + a common word
    "vpn 0x8007",  # common word + a prefix
    "quarantined",  # a word nobody wrote
    "tanaka crash",
]


def text(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def realistic(rng: random.Random, i: int) -> str:
    """What real tickets carry besides the common words: who, which host, which code."""
    parts = [f"Reported by {rng.choice(FIRST).title()} {rng.choice(LAST).title()} on"]
    parts.append(f"SRV{rng.randrange(3000):04d}.")
    if rng.random() < 0.5:
        parts.append(f"Error {rng.choice(CODES)}.")
    if rng.random() < 0.2:
        parts.append(f"See ACME-{rng.randrange(1, 20000)}.")
    return " ".join(parts)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from steward.accounts.models import User
    from steward.helpdesk.models import Ticket

    call_command("migrate", verbosity=0)
    if Ticket.objects.count() == args.tickets:
        print(f"{connection.vendor}: reusing {args.tickets} tickets")
        user = User.objects.get(email="bench@example.test")
        requester = User.objects.get(email="req@example.test")
    else:
        assert not Ticket.objects.exists(), "use an empty database (or one of the same size)"
        user, requester = populate(args.tickets)
    run(args, user, requester)


def populate(n_tickets: int):
    from django.db import connection
    from django.utils import timezone

    from steward.accounts.models import User
    from steward.helpdesk import search
    from steward.helpdesk.models import Reply, SearchDocument, Ticket, TicketCounter
    from steward.tenancy.models import Membership, Organization

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
    for first in range(0, n_tickets, batch):
        tickets = [
            Ticket(
                organization=orgs[i % 10],
                number=i // 10 + 1,
                subject=text(rng, 5),
                description=f"{realistic(rng, i)} {text(rng, 40)}",
                requester=requester if i % 10 == 0 and i % 7 == 0 else user,
                status=statuses[i % 5],
                priority=f"P{i % 4 + 1}",
                created_at=now - timedelta(minutes=i),
            )
            for i in range(first, min(first + batch, n_tickets))
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
        TicketCounter.objects.create(organization=org, last_number=n_tickets // 10 + 1)
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
        f"{connection.vendor}: {n_tickets} tickets, {Reply.objects.count()} replies "
        f"in {created:.1f} s; indexed {docs} documents in {time.perf_counter() - started:.1f} s"
    )
    assert SearchDocument.objects.count() == docs
    return user, requester


def run(args, user, requester) -> None:
    from django.test import Client

    from steward.accounts.models import ApiToken
    from steward.helpdesk import search
    from steward.tenancy.scoping import Principal

    def measure(label: str, fn, queries: list[str]) -> None:
        times = []
        fn(queries[0])  # warm the caches once, as a running server has them
        for _ in range(args.rounds):
            for q in queries:
                t0 = time.perf_counter()
                fn(q)
                times.append((time.perf_counter() - t0) * 1000)
        print(
            f"  {label:<40} median {statistics.median(times):7.1f} ms   "
            f"p95 {percentile(times, 0.95):7.1f} ms   (n={len(times)})"
        )

    staff, req = Principal(user=user), Principal(user=requester)
    print("search() over tickets, replies and articles, 20 best:")
    for mix, queries in (("worst", WORST), ("realistic", REALISTIC)):
        measure(f"{mix}: technician (10 organizations)", lambda q: search.search(staff, q), queries)
        measure(f"{mix}: requester (own tickets, public)", lambda q: search.search(req, q), queries)

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
            f"  {label:<40} median {statistics.median(times):7.1f} ms   "
            f"p95 {percentile(times, 0.95):7.1f} ms"
        )
    for mix, queries in (("worst", WORST), ("realistic", REALISTIC)):
        measure(
            f"{mix}: q=<query>", lambda q: page("/api/v1/tickets?" + urlencode({"q": q})), queries
        )
    req_client = Client(HTTP_AUTHORIZATION=f"Bearer {ApiToken.issue(requester, 'bench')[1]}")

    def req_page(url: str):
        response = req_client.get(url)
        assert response.status_code == 200, response.content[:300]

    measure("requester: first page", lambda q: req_page("/api/v1/tickets"), ["-"])
    for mix, queries in (("worst", WORST), ("realistic", REALISTIC)):
        measure(
            f"{mix}: requester q=<query>",
            lambda q: req_page("/api/v1/tickets?" + urlencode({"q": q})),
            queries,
        )


if __name__ == "__main__":
    main()
