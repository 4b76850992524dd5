"""``steward agent ...``: enroll this machine, run the agent, print its inventory or metrics,
list and try its checks.

The project's CLI owns the top-level parser and calls ``configure_parser`` with the
``agent`` subparser; every handler is ``func(args) -> int`` (the process exit status).
Exit statuses: 0 done or stopped, 1 error, 2 not enrolled, 3 device revoked, 4 credential
unknown to the server.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

from steward.agent.checks import (
    Assignment,
    ChecksService,
    MalformedAssignment,
    load_cached_assignment,
)
from steward.agent.checks.assignment import parse_assignment
from steward.agent.checks.state_store import STATE_FILE, CheckStateStore
from steward.agent.client import (
    AgentClient,
    AgentClientError,
    DeviceRevoked,
    EnrollmentRejected,
    InvalidCredential,
    ServerUnavailable,
)
from steward.agent.enrollment import enroll_device
from steward.agent.inventory import SECTION_NAMES, collect_inventory
from steward.agent.metrics.batch import BatchBuilder
from steward.agent.metrics.engine import MetricsEngine
from steward.agent.metrics.families import markdown_table
from steward.agent.metrics.pipeline import DEFAULT_INTERVAL, MetricsPipeline, clamp_interval
from steward.agent.platforms import UnsupportedPlatform, current_platform
from steward.agent.protocol import MAX_METRICS_INTERVAL, MIN_METRICS_INTERVAL
from steward.agent.runner import EXIT_INVALID_CREDENTIAL, EXIT_REVOKED, AgentRunner
from steward.agent.scrapes import ScrapeService
from steward.agent.spool import DEFAULT_MAX_BYTES, SPOOL_DIR, Spool
from steward.agent.state import AgentState, StateError, default_state_dir, load_state

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_NOT_ENROLLED = 2
NOT_ENROLLED_MESSAGE = (
    "this agent is not enrolled: run `steward agent enroll --server URL --token TOKEN`"
)


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add ``enroll``, ``run`` and ``inventory`` to the ``steward agent`` parser.

    ``steward agent`` with no subcommand runs the agent, which is what a service unit
    wants to say.
    """
    parser.set_defaults(
        func=run_command, state_dir=None, interval=DEFAULT_INTERVAL, spool_max_mb=None
    )
    commands = parser.add_subparsers(dest="agent_command", metavar="COMMAND")

    enroll = commands.add_parser(
        "enroll", help="enroll this machine with a server using an enrollment token"
    )
    enroll.add_argument("--server", required=True, metavar="URL", help="the server's URL")
    enroll.add_argument(
        "--token",
        default=os.environ.get("STEWARD_AGENT_TOKEN"),
        help="an enrollment token (set_...); default $STEWARD_AGENT_TOKEN, which keeps it out "
        "of process listings and shell history",
    )
    _add_state_dir(enroll)
    enroll.add_argument(
        "--ca", dest="ca_file", metavar="FILE", help="CA bundle to verify the server with"
    )
    enroll.set_defaults(func=enroll_command)

    run = commands.add_parser("run", help="report to the server until stopped (the default)")
    _add_state_dir(run)
    run.add_argument(
        "--interval",
        type=_interval,
        default=DEFAULT_INTERVAL,
        metavar="SECONDS",
        help=f"metrics collection interval to start with ({MIN_METRICS_INTERVAL}-"
        f"{MAX_METRICS_INTERVAL}, default {DEFAULT_INTERVAL:g}); the server's answer adjusts it",
    )
    run.add_argument(
        "--spool-max-mb",
        type=float,
        default=None,
        metavar="MIB",
        help=f"cap of the metrics spool kept through outages (default "
        f"{DEFAULT_MAX_BYTES // 2**20}, about a day of a typical host at 10 s)",
    )
    run.set_defaults(func=run_command)

    inventory = commands.add_parser(
        "inventory", help="print this machine's inventory as JSON (no server needed)"
    )
    inventory.add_argument(
        "--section", choices=SECTION_NAMES, help="print only this section of the inventory"
    )
    inventory.set_defaults(func=inventory_command)

    metrics = commands.add_parser(
        "metrics", help="print one round of this machine's metrics as JSON (no server needed)"
    )
    metrics.add_argument(
        "--families",
        action="store_true",
        help="print the table of metric families the agent sends (Markdown) instead",
    )
    metrics.set_defaults(func=metrics_command)

    checks = commands.add_parser(
        "checks",
        help="list the checks the server assigns to this machine, or run one here (--run)",
    )
    _add_state_dir(checks)
    checks.add_argument(
        "--run",
        type=int,
        metavar="ID",
        help="run this check once, locally, and print its result as JSON (nothing is sent)",
    )
    checks.set_defaults(func=checks_command)


def _interval(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {value!r}") from None
    if not MIN_METRICS_INTERVAL <= seconds <= MAX_METRICS_INTERVAL:
        raise argparse.ArgumentTypeError(
            f"must be between {MIN_METRICS_INTERVAL} and {MAX_METRICS_INTERVAL} seconds"
        )
    return clamp_interval(seconds)


def _add_state_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="where the enrollment is kept (default: $STEWARD_AGENT_STATE_DIR, "
        "/var/lib/steward-agent as root, else the user's state directory)",
    )


def _configure_logging(level: int) -> None:
    """Plain logging to stderr unless the embedding program already set it up."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # httpx (used by steward.checks' http check) logs every request at INFO: one line per
    # check run would drown the rest.
    logging.getLogger("httpx").setLevel(logging.WARNING)


def _error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return EXIT_ERROR


def enroll_command(args: argparse.Namespace) -> int:
    """Enroll, save the state, print where the device landed."""
    _configure_logging(logging.WARNING)
    state_dir: Path = args.state_dir or default_state_dir()
    if not args.token:
        return _error("no enrollment token: pass --token or set STEWARD_AGENT_TOKEN")
    try:
        enrollment = enroll_device(args.server, args.token, state_dir, ca_file=args.ca_file)
    except EnrollmentRejected as error:
        return _error(f"enrollment rejected: {error.detail} ({error.code})")
    except ServerUnavailable as error:
        return _error(f"cannot reach the server: {error.reason}")
    except (AgentClientError, StateError, UnsupportedPlatform, ValueError) as error:
        return _error(str(error))
    except OSError as error:  # an unreadable --ca file, an unwritable machine-id file
        return _error(f"{error.filename or ''}: {error.strerror or error}".lstrip(": "))
    organization = enrollment.organization or "(unknown organization)"
    site = enrollment.site or "(unknown site)"
    print(f"enrolled as device {enrollment.state.device_id} in {organization} / {site}")
    return EXIT_OK


@contextlib.contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGTERM (systemd stop) and SIGINT (Ctrl-C) set ``stop``; old handlers come back
    afterwards. Python only delivers signals to the main thread, so elsewhere (tests)
    nothing is installed."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handle(signum: int, frame: FrameType | None) -> None:
        logger.info("received %s; stopping", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run_command(args: argparse.Namespace) -> int:
    """Run the agent for the enrollment in the state directory until stopped."""
    _configure_logging(logging.INFO)
    state_dir: Path = args.state_dir or default_state_dir()
    try:
        state = load_state(state_dir)
        current_platform()
    except (StateError, UnsupportedPlatform) as error:
        return _error(str(error))
    if state is None:
        print(NOT_ENROLLED_MESSAGE, file=sys.stderr)
        return EXIT_NOT_ENROLLED
    max_bytes = DEFAULT_MAX_BYTES
    if args.spool_max_mb is not None:
        max_bytes = max(1, int(args.spool_max_mb * 2**20))
    try:
        spool = Spool(state_dir / SPOOL_DIR, max_bytes=max_bytes)
    except OSError as error:
        return _error(f"cannot use the metrics spool in {state_dir / SPOOL_DIR}: {error}")
    metrics = MetricsPipeline(MetricsEngine(), spool, interval=args.interval)
    try:
        # Results go out on their own connection: never queued behind an inventory upload.
        results_client = AgentClient(
            state.server_url, credential=state.credential, ca_file=state.ca_file
        )
        checks = ChecksService(results_client, state_dir)
        scrapes = ScrapeService(results_client, state_dir)
        runner = AgentRunner(state, metrics=metrics, checks=checks, scrapes=scrapes)
    except ValueError as error:  # the saved server URL or CA file is unusable
        return _error(str(error))
    except OSError as error:
        return _error(f"cannot use the check results or scrape spool in {state_dir}: {error}")
    stop = threading.Event()
    with _stop_on_signals(stop), results_client:
        return runner.run(stop)


def inventory_command(args: argparse.Namespace) -> int:
    """Print the inventory (or one section's value) exactly as it would be reported."""
    _configure_logging(logging.WARNING)
    try:
        if args.section:
            value = collect_inventory(sections=[args.section])[args.section]
        else:
            value = collect_inventory()
    except UnsupportedPlatform as error:
        return _error(str(error))
    json.dump(value, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    return EXIT_OK


def metrics_command(args: argparse.Namespace) -> int:
    """Print one collection round as the batch the server would receive (or the table)."""
    _configure_logging(logging.WARNING)
    if args.families:
        sys.stdout.write(markdown_table())
        return EXIT_OK
    try:
        current_platform()
    except UnsupportedPlatform as error:
        return _error(str(error))
    engine = MetricsEngine()
    builder = BatchBuilder()
    builder.add(engine.collect())
    engine.close()
    json.dump(builder.payload(), sys.stdout, indent=1, ensure_ascii=False)
    sys.stdout.write("\n")
    return EXIT_OK


def checks_command(args: argparse.Namespace) -> int:
    """List the assigned checks, or run one (``--run ID``) and print its result as JSON.

    Asks the server; when it cannot be reached, falls back (saying so on stderr) to the
    assignment the running agent saved at its last fetch. ``--run`` hands a stateful check
    the running agent's saved state but keeps the new one to itself: trying a log check
    does not make the agent skip the lines it read."""
    _configure_logging(logging.WARNING)
    state_dir: Path = args.state_dir or default_state_dir()
    try:
        state = load_state(state_dir)
    except StateError as error:
        return _error(str(error))
    if state is None:
        print(NOT_ENROLLED_MESSAGE, file=sys.stderr)
        return EXIT_NOT_ENROLLED
    assignment = _fetch_assignment(state, state_dir)
    if isinstance(assignment, int):
        return assignment
    if args.run is None:
        _print_assignment(assignment)
        return EXIT_OK
    check = assignment.by_id(args.run)
    if check is None:
        known = ", ".join(str(c.check_id) for c in assignment.checks) or "none"
        return _error(f"no check {args.run} is assigned to this device (assigned: {known})")
    if check.spec is None:
        output = {"check_id": check.check_id, "status": "unknown", "message": check.problem}
    else:
        from steward.checks import Side
        from steward.checks import run as run_check

        saved = CheckStateStore(state_dir / STATE_FILE).get(check.check_id, check.spec)
        output = {"check_id": check.check_id,
                  **run_check(check.spec, saved, side=Side.AGENT).to_dict()}  # fmt: skip
    json.dump(output, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    return EXIT_OK


def _fetch_assignment(state: AgentState, state_dir: Path) -> Assignment | int:
    """The assignment, or the exit status to end with."""
    try:
        with AgentClient(state.server_url, state.credential, state.ca_file) as client:
            return parse_assignment(client.fetch_checks())
    except DeviceRevoked as error:
        print(f"error: this device was revoked on the server ({error.detail})", file=sys.stderr)
        return EXIT_REVOKED
    except InvalidCredential as error:
        print(f"error: the server does not accept this credential ({error.detail})",
              file=sys.stderr)  # fmt: skip
        return EXIT_INVALID_CREDENTIAL
    except ServerUnavailable as error:
        cached = load_cached_assignment(state_dir)
        if cached is None:
            return _error(f"cannot reach the server: {error.reason}")
        print(f"warning: cannot reach the server ({error.reason}); showing the assignment "
              "saved at the agent's last fetch", file=sys.stderr)  # fmt: skip
        return cached
    except (AgentClientError, MalformedAssignment, ValueError) as error:
        return _error(str(error))


def _print_assignment(assignment: Assignment) -> None:
    print(f"revision {assignment.revision or '(none)'}: {len(assignment.checks)} checks")
    rows = [("ID", "TYPE", "TARGET", "EVERY", "TIMEOUT", "HERE")]
    for check in assignment.checks:
        entry = check.entry
        rows.append((
            str(check.check_id),
            str(entry.get("type", "?")),
            str(entry.get("target", "")),
            f"{entry.get('interval', '?')} s",
            f"{entry.get('timeout', '?')} s",
            "runs" if check.problem is None else check.problem,
        ))  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        print("  ".join([*cells, row[-1]]).rstrip())
