"""``steward tickets``: the help desk from the command line, through the API.

steward tickets list [--status active] [--assignee me] [--breached] [-q TEXT] [--json]
steward tickets show ID [--json]
steward tickets create --org ID --subject TEXT [-m TEXT] [--priority P2] [--json]
steward tickets reply ID -m TEXT [--internal]
steward tickets assign ID (--me | --to USER_ID | --nobody)
steward tickets close ID [--resolve] [--note TEXT]
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from steward.cli.client import api
from steward.cli.errors import CliError
from steward.cli.output import print_fields, print_json, print_table

LIST_COLUMNS = [
    ("id", "ID"),
    ("reference", "NO"),
    ("status", "STATUS"),
    ("priority", "PRI"),
    ("sla_state", "SLA"),
    ("subject", "SUBJECT"),
    ("assignee_email", "ASSIGNEE"),
    ("organization", "ORGANIZATION"),
]


def configure(commands) -> None:
    p = commands.add_parser("tickets", help="help desk tickets")
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    ls = sub.add_parser("list", help="list tickets")
    ls.add_argument(
        "--status",
        default="",
        help="new, open, pending, on_hold, resolved, closed (comma-separated) or 'active'",
    )
    ls.add_argument("--assignee", default="", help="me, unassigned or a user id")
    ls.add_argument("--org", type=int, help="organization id")
    ls.add_argument("--queue", type=int, help="queue id")
    ls.add_argument("--priority", default="", help="P1..P4 (comma-separated)")
    ls.add_argument("--search", "-q", default="", help="full-text search")
    ls.add_argument("--breaching-soon", action="store_true", help="SLA due within an hour")
    ls.add_argument(
        "--breached",
        action="store_true",
        help="an SLA target was missed (with --status active: the console's 'SLA breached')",
    )
    ls.add_argument("--limit", type=int, default=100)
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=tickets_list)

    show = sub.add_parser("show", help="show a ticket with its conversation")
    show.add_argument("ticket", type=int, help="ticket id")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=tickets_show)

    create = sub.add_parser("create", help="open a ticket")
    create.add_argument("--org", type=int, required=True, help="organization id")
    create.add_argument("--subject", required=True)
    create.add_argument("--message", "-m", default="", help="description (Markdown); - = stdin")
    create.add_argument("--impact", choices=["low", "medium", "high"], default="medium")
    create.add_argument("--urgency", choices=["low", "medium", "high"], default="medium")
    create.add_argument("--priority", choices=["P1", "P2", "P3", "P4"], help="override")
    create.add_argument("--queue", type=int, help="queue id")
    create.add_argument("--device", type=int, action="append", default=[], help="device id")
    create.add_argument("--json", action="store_true")
    create.set_defaults(func=tickets_create)

    reply = sub.add_parser("reply", help="reply to a ticket (or add an internal note)")
    reply.add_argument("ticket", type=int)
    reply.add_argument("--message", "-m", required=True, help="Markdown; - = stdin")
    reply.add_argument("--internal", action="store_true", help="internal note (staff only)")
    reply.add_argument("--json", action="store_true")
    reply.set_defaults(func=tickets_reply)

    assign = sub.add_parser("assign", help="assign a ticket")
    assign.add_argument("ticket", type=int)
    who = assign.add_mutually_exclusive_group(required=True)
    who.add_argument("--me", action="store_true")
    who.add_argument("--to", type=int, metavar="USER_ID")
    who.add_argument("--nobody", action="store_true")
    assign.add_argument("--json", action="store_true")
    assign.set_defaults(func=tickets_assign)

    close = sub.add_parser("close", help="close (or --resolve) a ticket")
    close.add_argument("ticket", type=int)
    close.add_argument("--resolve", action="store_true", help="resolve instead of closing")
    close.add_argument("--note", default="", help="a public reply sent first")
    close.add_argument("--json", action="store_true")
    close.set_defaults(func=tickets_close)


def _text(value: str) -> str:
    return sys.stdin.read() if value == "-" else value


def _row(t: dict[str, Any]) -> dict[str, Any]:
    return {
        **t,
        "sla_state": t["sla"]["state"],
        "assignee_email": (t.get("assignee") or {}).get("email"),
    }


def tickets_list(args: argparse.Namespace) -> int:
    params: dict[str, Any] = {
        "status": args.status,
        "assignee": args.assignee,
        "organization_id": args.org,
        "queue_id": args.queue,
        "priority": args.priority,
        "q": args.search,
        "breaching_soon": "true" if args.breaching_soon else None,
        "breached": "true" if args.breached else None,
        "limit": max(1, min(args.limit, 500)),
    }
    page = api().request("GET", "/tickets", params={k: v for k, v in params.items() if v})
    if args.json:
        print_json(page["items"])
    else:
        print_table([_row(t) for t in page["items"]], LIST_COLUMNS)
        if page["count"] > len(page["items"]):
            print(f"({len(page['items'])} of {page['count']}; use --limit)")
    return 0


def _print_ticket(t: dict[str, Any]) -> None:
    sla = t["sla"]
    print_fields(
        [
            ("Ticket", f"{t['reference']} (id {t['id']})"),
            ("Subject", t["subject"]),
            ("Organization", t["organization"]),
            ("Status", t["status"]),
            ("Priority", t["priority"]),
            ("Requester", (t.get("requester") or {}).get("email")),
            ("Assignee", (t.get("assignee") or {}).get("email")),
            ("Queue", t.get("queue")),
            ("Tags", t.get("tags")),
            (
                "SLA",
                f"{sla['state']}"
                + (f", next due {sla['next_due_at']}" if sla["next_due_at"] else ""),
            ),
            ("Created", t["created_at"]),
        ]
    )
    if t.get("description"):
        print(f"\n{t['description']}")
    for r in t.get("replies", []):
        who = (r.get("author") or {}).get("email") or "system"
        kind = "" if r["public"] else " [internal]"
        print(f"\n--- {who} at {r['created_at']}{kind}\n{r['body']}")


def tickets_show(args: argparse.Namespace) -> int:
    ticket = api().request("GET", f"/tickets/{args.ticket}")
    if args.json:
        print_json(ticket)
    else:
        _print_ticket(ticket)
    return 0


def tickets_create(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {
        "organization_id": args.org,
        "subject": args.subject,
        "description": _text(args.message),
        "impact": args.impact,
        "urgency": args.urgency,
        "device_ids": args.device,
    }
    if args.priority:
        body["priority_override"] = args.priority
    if args.queue:
        body["queue_id"] = args.queue
    ticket = api().request("POST", "/tickets", json=body)
    if args.json:
        print_json(ticket)
    else:
        print(f"created ticket {ticket['reference']} (id {ticket['id']})")
    return 0


def tickets_reply(args: argparse.Namespace) -> int:
    text = _text(args.message)
    if not text.strip():
        raise CliError("the message is empty", 2)
    reply = api().request(
        "POST", f"/tickets/{args.ticket}/replies", json={"body": text, "public": not args.internal}
    )
    if args.json:
        print_json(reply)
    else:
        print(f"{'note' if args.internal else 'reply'} {reply['id']} added")
    return 0


def tickets_assign(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"me": True} if args.me else {"assignee_id": args.to}
    ticket = api().request("POST", f"/tickets/{args.ticket}/assign", json=body)
    if args.json:
        print_json(ticket)
    else:
        who = (ticket.get("assignee") or {}).get("email") or "nobody"
        print(f"ticket {ticket['reference']} assigned to {who}")
    return 0


def tickets_close(args: argparse.Namespace) -> int:
    action = "resolve" if args.resolve else "close"
    ticket = api().request("POST", f"/tickets/{args.ticket}/{action}", json={"note": args.note})
    if args.json:
        print_json(ticket)
    else:
        print(f"ticket {ticket['reference']} is {ticket['status']}")
    return 0
