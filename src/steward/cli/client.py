"""The API client commands: ``steward login``, ``orgs``, ``sites``, ``devices``.

They talk to a server over HTTP with an API token, like any integration, so they work
against a remote Steward as well as the local one. ``STEWARD_URL`` and ``STEWARD_TOKEN``
override the stored login.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import tomllib
from pathlib import Path
from typing import Any

import httpx
import platformdirs
import tomli_w

from steward.cli import insights
from steward.cli.errors import CliError
from steward.cli.output import print_fields, print_json, print_table


def client_config_path() -> Path:
    override = os.environ.get("STEWARD_CLIENT_CONFIG")
    if override:
        return Path(override)
    return Path(platformdirs.user_config_dir("steward", appauthor=False)) / "client.toml"


def load_login() -> tuple[str, str]:
    url = os.environ.get("STEWARD_URL", "").strip()
    token = os.environ.get("STEWARD_TOKEN", "").strip()
    if not (url and token):
        path = client_config_path()
        stored: dict[str, Any] = {}
        if path.exists():
            try:
                stored = tomllib.loads(path.read_text())
            except (tomllib.TOMLDecodeError, OSError) as exc:
                raise CliError(f"cannot read {path}: {exc}", 2) from None
        url = url or str(stored.get("url", ""))
        token = token or str(stored.get("token", ""))
    if not url or not token:
        raise CliError(
            "not logged in: run `steward login --url URL` (or set STEWARD_URL and STEWARD_TOKEN)", 2
        )
    return url.rstrip("/"), token


def save_login(url: str, token: str) -> Path:
    path = client_config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        tomli_w.dump({"url": url, "token": token}, handle)
    os.replace(tmp, path)
    return path


class Api:
    def __init__(self, url: str, token: str | None = None, timeout: float = 15) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.url = url
        self.http = httpx.Client(base_url=f"{url}/api/v1", headers=headers, timeout=timeout)

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise CliError(f"cannot reach {self.url}: {exc}") from None
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text[:200]
            raise CliError(f"{response.status_code}: {detail}")
        return response.json() if response.content else None

    def get_all(self, path: str, **params: Any) -> list[dict[str, Any]]:
        """Follow the pages of a list endpoint."""
        items: list[dict[str, Any]] = []
        offset = 0
        while True:
            page = self.request("GET", path, params={**params, "limit": 500, "offset": offset})
            items.extend(page["items"])
            offset += len(page["items"])
            if not page["items"] or offset >= page["count"]:
                return items


def api() -> Api:
    return Api(*load_login())


def configure(commands) -> None:
    p = commands.add_parser("login", help="sign in to a Steward server and store a token")
    p.add_argument("--url", required=True, help="the server, e.g. https://steward.example.com")
    p.add_argument("--email", help="default: prompt")
    p.add_argument("--password", help="default: STEWARD_PASSWORD, else prompt")
    p.add_argument("--totp", default="", help="two-factor code, if enabled")
    p.set_defaults(func=login)

    p = commands.add_parser("logout", help="forget the stored token")
    p.set_defaults(func=logout)

    p = commands.add_parser("orgs", help="organizations")
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    ls = sub.add_parser("list", help="list organizations")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=orgs_list)

    p = commands.add_parser("sites", help="sites")
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    ls = sub.add_parser("list", help="list sites")
    ls.add_argument("--org", type=int, help="organization id")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=sites_list)

    p = commands.add_parser("devices", help="devices")
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    ls = sub.add_parser("list", help="list devices")
    ls.add_argument("--search", "-q", default="", help="host name, FQDN or serial")
    ls.add_argument("--status", choices=["online", "offline", "revoked"])
    ls.add_argument("--org", type=int, help="organization id")
    ls.add_argument("--site", type=int, help="site id")
    ls.add_argument("--tag", default="")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=devices_list)
    show = sub.add_parser("show", help="show one device (by id or host name)")
    show.add_argument("device")
    show.add_argument("--software", action="store_true", help="also list installed software")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=devices_show)
    insights.register(sub)


def login(args: argparse.Namespace) -> int:
    url = args.url.rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise CliError("--url must start with http:// or https://", 2)
    email = args.email or input("Email: ")
    password = args.password or os.environ.get("STEWARD_PASSWORD") or getpass.getpass()
    body = {
        "email": email,
        "password": password,
        "totp": args.totp,
        "token_name": f"steward CLI on {os.uname().nodename}",
    }
    try:
        created = Api(url).request("POST", "/auth/token", json=body)
    except CliError as exc:
        if "totp_required" in str(exc) or "two-factor code required" in str(exc):
            if not sys.stdin.isatty():
                raise CliError("two-factor code required: pass --totp CODE", 2) from None
            body["totp"] = input("Two-factor code: ")
            created = Api(url).request("POST", "/auth/token", json=body)
        else:
            raise
    path = save_login(url, created["token"])
    print(f"logged in to {url} as {email}; token stored in {path}")
    return 0


def logout(args: argparse.Namespace) -> int:
    path = client_config_path()
    if path.exists():
        path.unlink()
        print(f"removed {path}")
    return 0


def orgs_list(args: argparse.Namespace) -> int:
    items = api().get_all("/orgs")
    if args.json:
        print_json(items)
    else:
        print_table(items, [("id", "ID"), ("name", "NAME"), ("slug", "SLUG"), ("role", "ROLE")])
    return 0


def sites_list(args: argparse.Namespace) -> int:
    params = {"organization_id": args.org} if args.org else {}
    items = api().get_all("/sites", **params)
    if args.json:
        print_json(items)
    else:
        print_table(
            items,
            [
                ("id", "ID"),
                ("organization", "ORGANIZATION"),
                ("name", "NAME"),
                ("device_count", "DEVICES"),
            ],
        )
    return 0


def _alerts_cell(device: dict[str, Any]) -> str:
    """ "3 (critical)": firing alerts and the most severe one's severity; "" for none (a
    server older than these fields sends neither)."""
    firing = device.get("firing_alerts") or 0
    return f"{firing} ({device.get('alert_severity', '')})" if firing else ""


def devices_list(args: argparse.Namespace) -> int:
    params: dict[str, Any] = {"q": args.search, "tag": args.tag}
    if args.status:
        params["status"] = args.status
    if args.org:
        params["organization_id"] = args.org
    if args.site:
        params["site_id"] = args.site
    items = api().get_all("/devices", **{k: v for k, v in params.items() if v})
    if args.json:
        print_json(items)
    else:
        print_table(
            [{**item, "alerts": _alerts_cell(item)} for item in items],
            [
                ("id", "ID"),
                ("hostname", "HOSTNAME"),
                ("status", "STATUS"),
                ("alerts", "ALERTS"),
                ("failing_checks", "FAILING CHECKS"),
                ("last_seen", "LAST SEEN"),
                ("os_name", "OS"),
                ("os_version", "VERSION"),
                ("organization", "ORGANIZATION"),
                ("site", "SITE"),
                ("tags", "TAGS"),
            ],
        )
    return 0


def resolve_device(client: Api, ref: str) -> dict[str, Any]:
    if ref.isdigit():
        return client.request("GET", f"/devices/{ref}")
    matches = [d for d in client.get_all("/devices", q=ref) if d["hostname"] == ref]
    if not matches:
        raise CliError(f"no device with host name {ref!r}")
    if len(matches) > 1:
        ids = ", ".join(str(d["id"]) for d in matches)
        raise CliError(f"several devices are named {ref!r} (ids {ids}): give an id")
    return client.request("GET", f"/devices/{matches[0]['id']}")


def devices_show(args: argparse.Namespace) -> int:
    client = api()
    device = resolve_device(client, args.device)
    if args.software:
        device["software"] = client.get_all(f"/devices/{device['id']}/software")
    if args.json:
        print_json(device)
        return 0
    gib = (device["memory_bytes"] or 0) / 2**30
    print_fields(
        [
            ("Host name", device["hostname"]),
            ("Status", device["status"]),
            ("Firing alerts", _alerts_cell(device) or "none"),
            ("Failing checks", device.get("failing_checks", 0)),
            ("Last seen", device["last_seen"]),
            ("Organization", device["organization"]),
            ("Site", device["site"]),
            ("Tags", device["tags"]),
            ("OS", f"{device['os_name']} {device['os_version']}".strip()),
            ("Kernel", device["kernel"]),
            ("Architecture", device["arch"]),
            (
                "CPU",
                f"{device['cpu_model']} ({device['cpu_cores']} cores, "
                f"{device['cpu_threads']} threads)",
            ),
            ("Memory", f"{gib:.1f} GiB" if gib else None),
            ("Hardware", f"{device['hw_vendor']} {device['hw_model']}".strip() or None),
            ("Serial", device["hw_serial"] or None),
            ("Boot time", device["boot_time"]),
            ("Agent", device["agent_version"]),
        ]
    )
    partitions = device["inventory"].get("partitions") or []
    if partitions:
        print("\nFile systems")
        print_table(
            partitions,
            [
                ("mountpoint", "MOUNT"),
                ("fstype", "TYPE"),
                ("total_bytes", "SIZE"),
                ("free_bytes", "FREE"),
            ],
        )
    if args.software:
        print(f"\nSoftware ({len(device['software'])} packages)")
        print_table(
            device["software"], [("name", "NAME"), ("version", "VERSION"), ("source", "SOURCE")]
        )
    return 0
