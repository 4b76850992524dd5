"""``steward simulate``: run many simulated agents in one process against a server.

For demos, load tests and benchmarks: N light agents enroll through the real API (their
credentials are kept in a state directory, so a re-run reuses the same devices), send one
inventory, heartbeats and metric batches with realistic, per-host-varying series. See
``steward.simulate`` for what the series look like and how resource use is bounded.

Enrollment: ``--token set_...`` (an enrollment token with enough uses), or ``--site ID``
with ``STEWARD_URL``/``STEWARD_TOKEN`` (or ``steward login``): a token for that site is
created through the API, only if some agent still needs to enroll.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

import platformdirs

from steward.cli.errors import CliError

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


def duration(text: str) -> float:
    """``90``, ``90s``, ``15m``, ``2h``, ``1d`` -> seconds."""
    match = _DURATION.match(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 30s, 15m, 2h)")
    return float(match.group(1)) * _UNITS[match.group(2)]


def default_state_dir() -> Path:
    return Path(platformdirs.user_state_dir("steward", appauthor=False)) / "simulate"


def configure(commands) -> None:
    p = commands.add_parser(
        "simulate", help="run simulated agents against a server (demos, load tests)"
    )
    p.add_argument("--agents", "-n", type=int, default=10, help="how many agents (default 10)")
    p.add_argument(
        "--interval", type=duration, default=10.0, help="collection interval (default 10s)"
    )
    p.add_argument("--server", help="server URL (default: STEWARD_URL or the stored login)")
    p.add_argument("--token", help="enrollment token (set_...) for agents not enrolled yet")
    p.add_argument("--site", type=int, help="create an enrollment token for this site id")
    p.add_argument("--duration", type=duration, help="stop after this long (default: Ctrl-C)")
    p.add_argument(
        "--backfill", type=duration, default=0.0,
        help="first send this much history per agent (e.g. 6h; at most 7d)",
    )  # fmt: skip
    p.add_argument(
        "--batch-rounds", type=int, default=1,
        help="collection rounds per metrics request (default 1; more = fewer requests)",
    )  # fmt: skip
    p.add_argument(
        "--concurrency",
        type=int,
        default=32,
        help="metrics requests in flight (default 32); heartbeats have their own "
        "connections: a quarter as many, or one per agent/interval if more",
    )
    p.add_argument("--prefix", default="sim", help="host name prefix (default sim: sim-0000)")
    p.add_argument("--seed", default="steward", help="changes every host's behaviour")
    p.add_argument("--state-dir", type=Path, default=None, help="where credentials are kept")
    p.add_argument("--no-heartbeats", action="store_true", help="metrics only")
    p.set_defaults(func=simulate)


def _server_and_token_factory(args: argparse.Namespace):
    url = args.server or os.environ.get("STEWARD_URL", "").strip()
    factory = None
    if args.site is not None:
        from steward.cli.client import Api, load_login

        login_url, api_token = load_login()
        url = url or login_url

        def factory() -> str:
            created = Api(login_url, api_token).request(
                "POST",
                "/enrollment-tokens",
                json={
                    "site_id": args.site,
                    "name": "steward simulate",
                    "expires_in_hours": 1,
                    "max_uses": max(args.agents, 1),
                },
            )
            return str(created["token"])

    if not url:
        try:
            from steward.cli.client import load_login

            url = load_login()[0]
        except CliError:
            raise CliError("give --server (or set STEWARD_URL)", 2) from None
    return url.rstrip("/"), factory


def simulate(args: argparse.Namespace) -> int:
    from steward.simulate.runner import Options, SimulationError, StateFile, run

    if args.agents < 1 or args.interval <= 0 or args.batch_rounds < 1:
        raise CliError("--agents, --interval and --batch-rounds must be positive", 2)
    if args.backfill > 7 * 86400:
        raise CliError("--backfill: the store keeps raw samples 7 days at most", 2)
    server, factory = _server_and_token_factory(args)
    state_dir = args.state_dir or default_state_dir()
    options = Options(
        server=server,
        agents=args.agents,
        interval=args.interval,
        duration=args.duration,
        token=args.token,
        state_dir=state_dir,
        seed=args.seed,
        prefix=args.prefix,
        batch_rounds=args.batch_rounds,
        backfill=args.backfill,
        concurrency=args.concurrency,
        heartbeats=not args.no_heartbeats,
    )
    try:
        state = StateFile(state_dir, server)
    except SimulationError as exc:
        raise CliError(str(exc), 2) from None
    from steward.simulate.host import hostname

    missing = sum(1 for i in range(args.agents) if state.get(hostname(args.prefix, i)) is None)
    if missing and not (args.token or factory):
        raise CliError(
            f"{missing} agent(s) not enrolled yet: give --token, or --site with STEWARD_TOKEN", 2
        )
    print(
        f"simulating {args.agents} agents against {server} every {args.interval:g}s "
        f"({missing} to enroll; state in {state_dir}); Ctrl-C stops",
        file=sys.stderr,
    )
    stats = run(options, token_factory=factory)
    print(stats.summary())
    return 1 if stats.errors and not stats.samples else 0
