"""``steward metrics``: metric collection settings, through the API.

steward metrics interval (--org ID | --site ID | --device ID_OR_HOST) [--set SECONDS | --inherit]
    [--json]
"""

from __future__ import annotations

import argparse

from steward.cli.client import api, resolve_device
from steward.cli.errors import CliError
from steward.cli.output import print_fields, print_json


def configure(commands) -> None:
    p = commands.add_parser("metrics", help="metric collection settings")
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    interval = sub.add_parser(
        "interval",
        help="show or set how often agents collect metrics in an organization, site or device",
    )
    scope = interval.add_mutually_exclusive_group(required=True)
    scope.add_argument("--org", type=int, help="organization id")
    scope.add_argument("--site", type=int, help="site id")
    scope.add_argument("--device", help="device id or host name")
    change = interval.add_mutually_exclusive_group()
    change.add_argument("--set", type=int, metavar="SECONDS", help="this scope's own interval")
    change.add_argument(
        "--inherit", action="store_true", help="drop this scope's own interval (use the wider)"
    )
    interval.add_argument("--json", action="store_true")
    interval.set_defaults(func=interval_command)


def interval_command(args: argparse.Namespace) -> int:
    if args.set is not None and not 1 <= args.set <= 3600:
        raise CliError("--set: expected seconds between 1 and 3600", 2)
    client = api()
    if args.device is not None:
        scope = {"device_id": resolve_device(client, args.device)["id"]}
    elif args.site is not None:
        scope = {"site_id": args.site}
    else:
        scope = {"organization_id": args.org}
    if args.set is not None or args.inherit:
        found = client.request("PUT", "/metrics/collection", json={**scope, "interval": args.set})
    else:
        found = client.request("GET", "/metrics/collection", params=scope)
    if args.json:
        print_json(found)
        return 0
    own = f"{found['interval']} s" if found["interval"] is not None else "none (inherits)"
    print_fields(
        [
            ("Own interval", own),
            ("In effect", f"{found['effective']} s (from the {found['source']})"),
        ]
    )
    return 0
