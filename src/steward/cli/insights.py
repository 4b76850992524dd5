"""``steward devices forecasts|anomalies|disk-health``: a device's insights, as the console's
device page shows them, through the API.

steward devices forecasts DEVICE [--json]
steward devices anomalies DEVICE [--min-score X] [--limit N] [--json]
steward devices disk-health DEVICE [--json]

DEVICE is an id or a host name. ``--json`` prints the API's list as it is (``[]`` for none).
"""

from __future__ import annotations

import argparse
from typing import Any

from steward.cli.errors import CliError
from steward.cli.output import print_json, print_table

# Labels every series of a device carries (see steward.metrics.ingest): they say nothing
# about which of the device's series a row is.
SHARED_LABELS = frozenset({"__name__", "instance", "job", "steward_device", "steward_org"})

# The API's own bound on ``limit`` (steward.insights.api.device_anomalies clamps to it).
LIMIT_MAX = 1000
TABLE_LIMIT = 20


def register(sub: argparse._SubParsersAction) -> None:
    """Add the sub-commands to ``steward devices``."""
    p = sub.add_parser("forecasts", help="when a device's file systems and memory run out")
    p.add_argument("device", help="device id or host name")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=forecasts_command)

    p = sub.add_parser("anomalies", help="a device's series by anomaly score")
    p.add_argument("device", help="device id or host name")
    p.add_argument(
        "--min-score",
        type=float,
        default=0.0,
        metavar="X",
        help="only series scoring at least X (0 to 1; default 0)",
    )
    p.add_argument(
        "--limit",
        type=int,
        metavar="N",
        help=f"at most N series (1 to {LIMIT_MAX}; default {TABLE_LIMIT}, with --json 100)",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=anomalies_command)

    p = sub.add_parser("disk-health", help="failure risk of a device's disks (SMART)")
    p.add_argument("device", help="device id or host name")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=disk_health_command)


def _device(ref: str) -> tuple[Any, dict[str, Any]]:
    # Imported here, not at the top: client.py imports this module to build ``devices``.
    from steward.cli.client import api, resolve_device

    client = api()
    return client, resolve_device(client, ref)


def forecasts_command(args: argparse.Namespace) -> int:
    client, device = _device(args.device)
    items = client.request("GET", f"/devices/{device['id']}/forecasts")
    if args.json:
        print_json(items)
    elif not items:
        print(f"no forecasts yet for {device['hostname']}: they need a few hours of metrics")
    else:
        print_table(
            items,
            [
                ("resource", "RESOURCE"),
                ("status", "STATUS"),
                ("summary", "HEADLINE"),
                ("reason", "REASON"),
            ],
        )
    return 0


def compact_labels(labels: dict[str, str]) -> str:
    """``cpu=0,mode=user``: the labels that tell a device's series apart, sorted."""
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()) if k not in SHARED_LABELS)


def anomalies_command(args: argparse.Namespace) -> int:
    # Checked before any request: the API would clamp a bad limit and accept any score.
    if not 0.0 <= args.min_score <= 1.0:
        raise CliError("--min-score: expected a score between 0 and 1", 2)
    if args.limit is not None and not 1 <= args.limit <= LIMIT_MAX:
        raise CliError(f"--limit: expected a number between 1 and {LIMIT_MAX}", 2)
    limit = args.limit if args.limit is not None else (100 if args.json else TABLE_LIMIT)
    client, device = _device(args.device)
    items = client.request(
        "GET",
        f"/devices/{device['id']}/anomalies",
        params={"min_score": args.min_score, "limit": limit},
    )
    if args.json:
        print_json(items)
    elif not items:
        wanted = f" scoring at least {args.min_score:g}" if args.min_score else ""
        print(
            f"no scored series{wanted} for {device['hostname']}: "
            "the detectors need a few minutes of metrics"
        )
    else:
        print_table(
            [
                {
                    **item,
                    "labels": compact_labels(item["labels"]) or None,
                    "score": f"{item['score']:.2f}",
                    "rate": f"{item['anomaly_rate']:.1f} %",
                }
                for item in items
            ],
            [
                ("metric", "METRIC"),
                ("labels", "LABELS"),
                ("score", "SCORE"),
                ("rate", "RATE"),
                ("explanation", "EXPLANATION"),
            ],
        )
    return 0


def disk_health_command(args: argparse.Namespace) -> int:
    client, device = _device(args.device)
    items = client.request("GET", f"/devices/{device['id']}/disk-health")
    if args.json:
        print_json(items)
    elif not items:
        print(
            f"no SMART data from {device['hostname']} in the last 30 minutes "
            "(the agent needs smartctl and root)"
        )
    else:
        print_table(
            [
                {**item, "model": item["model"] or None, "serial": item["serial"] or None}
                for item in items
            ],
            [
                ("disk", "DISK"),
                ("level", "LEVEL"),
                ("model", "MODEL"),
                ("serial", "SERIAL"),
                ("summary", "SUMMARY"),
            ],
        )
    return 0
