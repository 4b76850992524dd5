"""``steward alerts``, ``steward checks``, ``steward apply`` and ``steward export``.

steward alerts list [--status active] [--severity critical] [--org ORG] [--json]
steward alerts ack ID [--note TEXT] [--json]
steward alerts silence --match 'device="web-01"' [--match ...] --for 2h [--reason T] [--org]
steward checks list [--status failing] [--org ORG] [--json]
steward checks run ID [--json]
steward apply -f FILE.yaml [--org ORG] [--dry-run] [--json]
steward export [--org ORG] [-o FILE]

Where they run: through the API when a login exists (``steward login``, or STEWARD_URL and
STEWARD_TOKEN), so they work against a remote server with the caller's permissions;
otherwise (or with ``--local``) directly against STEWARD_HOME on the server host, like
``steward token create``, with full rights. ORG is an organization id or name; it may be
left out when there is only one.
"""

from __future__ import annotations

import argparse
import getpass
import sys
import time
from pathlib import Path
from typing import Any

from steward.cli.errors import CliError
from steward.cli.output import print_json, print_table

ALERT_COLUMNS = [("id", "ID"), ("phase", "PHASE"), ("severity", "SEVERITY"),
                 ("title", "TITLE"), ("started_at", "SINCE")]  # fmt: skip
# steward.alerts.checklist.FILTERS, spelt out: the CLI does not import Django to parse.
CHECK_STATUSES = ("failing", "critical", "warning", "unknown", "ok", "pending")
CHECK_COLUMNS = [("id", "ID"), ("name", "NAME"), ("type", "TYPE"), ("target", "TARGET"),
                 ("device", "DEVICE"), ("status", "STATUS"), ("message", "MESSAGE")]  # fmt: skip


def configure(commands) -> None:
    def common(p: argparse.ArgumentParser, org: bool = True) -> None:
        if org:
            p.add_argument("--org", default="", help="organization id or name")
        p.add_argument("--json", action="store_true")
        p.add_argument("--local", action="store_true", help="use STEWARD_HOME, not the API")

    p = commands.add_parser("alerts", help="alerts: list, acknowledge, silence")
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    ls = sub.add_parser("list", help="list alerts")
    ls.add_argument(
        "--status",
        default="active",
        help="active (default), firing, pending, resolved, a phase, or all",
    )
    ls.add_argument("--severity", default="")
    ls.add_argument("--label", action="append", default=[], help="name=value")
    common(ls)
    ls.set_defaults(func=alerts_list)
    ack = sub.add_parser("ack", help="acknowledge an alert")
    ack.add_argument("alert", type=int)
    ack.add_argument("--note", default="")
    common(ack, org=False)
    ack.set_defaults(func=alerts_ack)
    sil = sub.add_parser("silence", help="silence alerts matching labels for a while")
    sil.add_argument(
        "--match",
        action="append",
        required=True,
        help='label matcher, e.g. device="web-01" (repeatable)',
    )
    sil.add_argument("--for", dest="duration", default="1h", help="e.g. 30m, 2h (default 1h)")
    sil.add_argument("--reason", default="")
    sil.add_argument("--name", default="")
    common(sil)
    sil.set_defaults(func=alerts_silence)

    p = commands.add_parser("checks", help="checks: list, run now")
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    ls = sub.add_parser("list", help="list checks with their state")
    ls.add_argument(
        "--status",
        default="",
        choices=CHECK_STATUSES,
        metavar="STATUS",
        help="failing (enabled, hard critical or warning, device not revoked), "
        + ", ".join(CHECK_STATUSES[1:]),
    )
    common(ls)
    ls.set_defaults(func=checks_list)
    run = sub.add_parser("run", help="run a check now (agent checks: at the next pull)")
    run.add_argument("check", type=int)
    common(run, org=False)
    run.set_defaults(func=checks_run)

    p = commands.add_parser("apply", help="create/update monitoring from a YAML file")
    p.add_argument("-f", "--file", required=True, help="the YAML file (- = stdin)")
    p.add_argument("--dry-run", action="store_true", help="validate and report, change nothing")
    common(p)
    p.set_defaults(func=apply)

    p = commands.add_parser("export", help="write the monitoring configuration as YAML")
    p.add_argument("-o", "--output", default="-", help="file (default: stdout)")
    p.add_argument("--org", default="", help="organization id or name")
    p.add_argument("--local", action="store_true", help="use STEWARD_HOME, not the API")
    p.set_defaults(func=export)


# ------------------------------------------------------------------ backends


class Remote:
    def __init__(self) -> None:
        from steward.cli.client import api

        self.api = api()

    def org(self, ref: str) -> int:
        orgs = self.api.get_all("/orgs")
        return _pick_org(ref, [(o["id"], o["name"], o.get("slug", "")) for o in orgs])

    def alerts(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        return self.api.get_all("/alerts", **params)

    def ack(self, alert_id: int, note: str) -> dict[str, Any]:
        return self.api.request("POST", f"/alerts/{alert_id}/ack", json={"note": note})

    def create(self, path: str, org_id: int, spec: dict[str, Any]) -> dict[str, Any]:
        return self.api.request("POST", path, json={"organization_id": org_id, "spec": spec})

    def checks(self, org_id: int | None, status: str = "") -> list[dict[str, Any]]:
        params = {"organization_id": org_id, "status": status}
        return self.api.get_all("/checks", **{k: v for k, v in params.items() if v})

    def run_check(self, check_id: int) -> dict[str, Any]:
        return self.api.request("POST", f"/checks/{check_id}/run")

    def apply(self, org_id: int, text: str, filename: str, dry_run: bool) -> dict[str, Any]:
        body = {"organization_id": org_id, "yaml": text, "filename": filename,
                "dry_run": dry_run}  # fmt: skip
        return self.api.request("POST", "/monitoring/apply", json=body)

    def export(self, org_id: int) -> str:
        out = self.api.request("GET", "/monitoring/export", params={"organization_id": org_id})
        return out["yaml"]


class Local:
    def __init__(self) -> None:
        from steward.cli.local import setup_django

        setup_django()
        self.who = f"cli:{getpass.getuser()}"

    def org(self, ref: str) -> int:
        from steward.tenancy.models import Organization

        return _pick_org(ref, list(Organization.objects.values_list("pk", "name", "slug")))

    def alerts(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        from steward.alerts.api.alerts import AlertFilter, AlertOut, filter_alerts
        from steward.alerts.models import Alert

        f = AlertFilter(**{k: v for k, v in params.items() if v not in (None, "", [])})
        return [AlertOut.of(a).dict() for a in filter_alerts(Alert.objects.all(), f)[:1000]]

    def ack(self, alert_id: int, note: str) -> dict[str, Any]:
        from steward.alerting import AlertingError
        from steward.alerts import runtime
        from steward.alerts.api.alerts import AlertOut
        from steward.alerts.models import Alert

        alert = Alert.objects.filter(pk=alert_id).first()
        if alert is None:
            raise CliError(f"no alert {alert_id}")
        try:
            runtime.run(
                alert.organization_id,
                lambda e, now: e.acknowledge(alert.fingerprint, self.who, now, note),
            )
        except AlertingError as exc:
            raise CliError(str(exc)) from None
        return AlertOut.of(Alert.objects.get(pk=alert_id)).dict()

    def create(self, path: str, org_id: int, spec: dict[str, Any]) -> dict[str, Any]:
        from steward.alerts import specs
        from steward.alerts.api.config import ROUTES, _out
        from steward.audit import context

        route = next(r for r in ROUTES if r.path == path)
        kind = specs.kind(route.key)
        ctx = specs.Context(org_id)
        try:
            with context.acting_as(label=self.who, source="cli"):
                obj, _ = kind.upsert(ctx, kind.clean(spec, ctx))
        except specs.Invalid as exc:
            raise CliError(str(exc), 2) from None
        return _out(route, obj).dict()

    def checks(self, org_id: int | None, status: str = "") -> list[dict[str, Any]]:
        from steward.alerts import checklist
        from steward.alerts.api.config import ROUTES, _out
        from steward.alerts.models import CheckDefinition

        route = next(r for r in ROUTES if r.key == "checks")
        qs = CheckDefinition.objects.select_related("device", "status")
        if org_id:
            qs = qs.filter(organization_id=org_id)
        if status:
            qs = checklist.with_status(qs, status)
        return [_out(route, c).dict() for c in qs]

    def run_check(self, check_id: int) -> dict[str, Any]:
        from django.utils import timezone

        from steward.alerts import runner
        from steward.alerts.api.config import ROUTES, _out
        from steward.alerts.models import CheckDefinition

        qs = CheckDefinition.objects.select_related("device", "status")
        check = qs.filter(pk=check_id).first()
        if check is None:
            raise CliError(f"no check {check_id}")
        if check.device_id is None:
            runner.run_one(check)
        else:
            CheckDefinition.objects.filter(pk=check_id).update(run_requested_at=timezone.now())
        route = next(r for r in ROUTES if r.key == "checks")
        return _out(route, qs.get(pk=check_id)).dict()

    def apply(self, org_id: int, text: str, filename: str, dry_run: bool) -> dict[str, Any]:
        from steward.alerts import yamlio
        from steward.audit import context

        try:
            with context.acting_as(label=self.who, source="cli"):
                return yamlio.apply(text, org_id, filename, dry_run).as_dict()
        except yamlio.ApplyError as exc:
            raise CliError(str(exc), 2) from None

    def export(self, org_id: int) -> str:
        from steward.alerts import yamlio

        return yamlio.export(org_id)


def _pick_org(ref: str, orgs: list[tuple[int, str, str]]) -> int:
    if not ref:
        if len(orgs) == 1:
            return orgs[0][0]
        raise CliError("several organizations: choose one with --org ID|NAME", 2)
    for pk, name, slug in orgs:
        if ref == str(pk) or ref.lower() in (name.lower(), slug):
            return pk
    raise CliError(f"no organization {ref!r}", 2)


def backend(args: argparse.Namespace) -> Remote | Local:
    if getattr(args, "local", False):
        return Local()
    try:
        return Remote()
    except CliError:
        return Local()  # no login: on the server host, work on STEWARD_HOME


# ------------------------------------------------------------------ commands


def alerts_list(args: argparse.Namespace) -> int:
    b = backend(args)
    params: dict[str, Any] = {"status": "" if args.status == "all" else args.status,
                              "severity": args.severity, "label": args.label}  # fmt: skip
    if args.org:
        params["organization_id"] = b.org(args.org)
    items = b.alerts({k: v for k, v in params.items() if v})
    if args.json:
        print_json(items)
    else:
        print_table(items, ALERT_COLUMNS)
    return 0


def alerts_ack(args: argparse.Namespace) -> int:
    alert = backend(args).ack(args.alert, args.note)
    if args.json:
        print_json(alert)
    else:
        print(f"alert {alert['id']} acknowledged by {alert['acknowledged_by']}")
    return 0


def alerts_silence(args: argparse.Namespace) -> int:
    b = backend(args)
    org_id = b.org(args.org)
    name = args.name or f"cli {time.strftime('%Y-%m-%d %H:%M:%S')}"
    spec = {"name": name, "matchers": args.match, "duration": args.duration,
            "reason": args.reason}  # fmt: skip
    out = b.create("/silences", org_id, spec)
    if args.json:
        print_json(out)
    else:
        print(f"silence {out['id']} '{name}' until {out['spec']['ends']}")
    return 0


def _check_row(c: dict[str, Any]) -> dict[str, Any]:
    spec, extra = c["spec"], c.get("extra", {})
    return {"id": c["id"], "name": spec["name"], "type": spec["type"], "target": spec["target"],
            "device": spec.get("device", "(server)"), "status": extra.get("status"),
            "message": (extra.get("message") or "")[:60]}  # fmt: skip


def checks_list(args: argparse.Namespace) -> int:
    b = backend(args)
    items = b.checks(b.org(args.org) if args.org else None, args.status)
    if args.json:
        print_json(items)
    else:
        print_table([_check_row(c) for c in items], CHECK_COLUMNS)
    return 0


def checks_run(args: argparse.Namespace) -> int:
    out = backend(args).run_check(args.check)
    if args.json:
        print_json(out)
    else:
        row = _check_row(out)
        if out["extra"].get("side") == "agent":
            print(f"check {row['name']}: the agent runs it at its next configuration pull")
        else:
            print(f"check {row['name']}: {row['status']} {row['message']}")
    return 0


def apply(args: argparse.Namespace) -> int:
    if args.file == "-":
        text, filename = sys.stdin.read(), "<stdin>"
    else:
        try:
            text, filename = Path(args.file).read_text(), args.file
        except OSError as exc:
            raise CliError(f"cannot read {args.file}: {exc}", 2) from None
    b = backend(args)
    report = b.apply(b.org(args.org), text, filename, args.dry_run)
    if args.json:
        print_json(report)
        return 0
    for change in report["changes"]:
        print(f"{change['action']:9}  {change['kind']}: {change['name']}")
    verb = "would change" if report["dry_run"] else "changed"
    print(f"{verb} {report['changed']} of {len(report['changes'])} item(s)")
    return 0


def export(args: argparse.Namespace) -> int:
    b = backend(args)
    text = b.export(b.org(args.org))
    if args.output == "-":
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text)
    return 0
