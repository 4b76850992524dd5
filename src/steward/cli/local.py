"""Commands that run on the server host against ``STEWARD_HOME`` (they need Django)."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from datetime import timedelta

from steward import config as steward_config
from steward.cli.errors import CliError
from steward.cli.output import print_fields, print_json

ROLES = ("owner", "admin", "technician", "viewer", "requester")


def setup_django() -> steward_config.Config:
    """Validate the configuration first (a clear error, exit 2), then start Django."""
    config = steward_config.load()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "steward.server.settings")
    import django

    django.setup()
    return config


def configure(commands) -> None:
    from steward.cli import up

    p = commands.add_parser("up", help="first-run set-up, then server + worker + local agent")
    p.add_argument("--host", help="listen address (default from STEWARD_HOST, 127.0.0.1)")
    p.add_argument("--port", type=int, help="listen port (default from STEWARD_PORT, 8080)")
    p.add_argument("--no-agent", action="store_true", help="do not run the local agent")
    p.set_defaults(func=up.run)

    p = commands.add_parser("serve", help="run the web server (API + console)")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument(
        "--workers",
        type=int,
        help="server processes sharing the port (default from STEWARD_WEB_WORKERS, 1)",
    )
    p.set_defaults(func=serve)

    p = commands.add_parser("worker", help="run background jobs")
    p.add_argument("--once", action="store_true", help="run due jobs once and exit")
    p.set_defaults(func=worker)

    p = commands.add_parser("migrate", help="create or upgrade the database schema")
    p.set_defaults(func=migrate)

    p = commands.add_parser("config", help="configuration")
    sub = p.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    show = sub.add_parser("show", help="print the effective settings (secrets masked)")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=config_show)

    p = commands.add_parser("user", help="manage users locally")
    sub = p.add_subparsers(dest="user_command", metavar="ACTION", required=True)
    create = sub.add_parser("create", help="create a user")
    create.add_argument("--email", required=True)
    create.add_argument("--name", default="")
    create.add_argument("--password", help="default: STEWARD_PASSWORD, else prompt")
    create.add_argument("--superuser", action="store_true", help="staff: sees every organization")
    create.add_argument("--org", help="organization name or slug to join")
    create.add_argument("--role", choices=ROLES, default="technician")
    create.add_argument("--json", action="store_true")
    create.set_defaults(func=user_create)

    p = commands.add_parser("token", help="manage API tokens locally")
    sub = p.add_subparsers(dest="token_command", metavar="ACTION", required=True)
    create = sub.add_parser("create", help="create an API token; prints it as the last line")
    create.add_argument("--user", required=True, help="the user's email")
    create.add_argument("--name", default="created with steward token create")
    create.add_argument("--role", choices=ROLES, help="role ceiling (default: the user's roles)")
    create.add_argument("--expires-days", type=int, default=90)
    create.set_defaults(func=token_create)


def web_workers(args: argparse.Namespace) -> int:
    """``--workers``, else the ``web_workers`` option, else 1 (at least 1)."""
    from django.conf import settings

    workers = args.workers if args.workers is not None else settings.STEWARD.get("web_workers", 1)
    if int(workers) < 1:
        raise CliError("--workers must be at least 1", 2)
    return int(workers)


def serve(args: argparse.Namespace) -> int:
    config = setup_django()
    from steward.server import serving

    host = args.host or config.host
    port = args.port or config.port
    options: dict = {}
    if config.tls_cert:
        options = {"ssl_certfile": config.tls_cert, "ssl_keyfile": config.tls_key}
    # Django runs each request's sync code on a thread of its own; the GIL keeps one process
    # at about one core of Python. Several processes (uvicorn's supervisor, one shared
    # socket) use more; each opens its own metrics-store connection, and SQLite serialises
    # their appends (WAL, an flock queue, the busy timeout).
    serving.run(
        web_workers(args),
        host=host,
        port=port,
        log_config=None,  # keep Django's logging configuration (JSON or text)
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=5,
        **options,
    )
    from steward.metrics import ingest, store

    # Served: end the database sessions of the ingest threads and of the metrics store
    # cleanly rather than by the exit. (With several server processes each is a child of
    # this one and ends with it.)
    ingest.close_ingest_threads()
    store.close_store()
    return 0


def worker(args: argparse.Namespace) -> int:
    config = setup_django()
    import signal
    import threading

    from steward.jobs import worker as jobs

    if args.once:
        jobs.ensure_rows()
        print("ran: " + (", ".join(jobs.run_due()) or "nothing due"))
        return 0
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    jobs.loop(stop, interval=float(config.worker_interval))
    return 0


def migrate(args: argparse.Namespace) -> int:
    setup_django()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=1)
    return 0


def config_show(args: argparse.Namespace) -> int:
    config = steward_config.load()
    shown = config.masked()
    if args.json:
        print_json(shown)
        return 0
    rows = [
        (key, f"{value}  ({config.sources.get(key, 'environment')})")
        for key, value in shown.items()
    ]
    print_fields(rows)
    return 0


def _password(args: argparse.Namespace) -> str:
    if args.password:
        return args.password
    if os.environ.get("STEWARD_PASSWORD"):
        return os.environ["STEWARD_PASSWORD"]
    if not sys.stdin.isatty():
        raise CliError(
            "no password: pass --password, set STEWARD_PASSWORD, or run in a terminal", 2
        )
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Password (again): "):
        raise CliError("the passwords differ", 2)
    return first


def _find_org(name: str):
    from django.db.models import Q

    from steward.tenancy.models import Organization

    org = Organization.objects.filter(Q(name__iexact=name) | Q(slug=name)).first()
    if org is None:
        raise CliError(f"no organization named {name!r}")
    return org


def user_create(args: argparse.Namespace) -> int:
    setup_django()
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    from steward.accounts.models import User
    from steward.audit import context
    from steward.tenancy import services
    from steward.tenancy.roles import Role

    email = args.email.strip().lower()
    if "@" not in email:
        raise CliError(f"not an email address: {args.email!r}", 2)
    if User.objects.filter(email=email).exists():
        raise CliError(f"a user with email {email} exists already")
    password = _password(args)
    try:
        validate_password(password)
    except ValidationError as exc:
        raise CliError("password: " + " ".join(exc.messages), 2) from None
    org = _find_org(args.org) if args.org else None
    with context.acting_as(label=f"cli:{getpass.getuser()}", source="cli"):
        create = User.objects.create_superuser if args.superuser else User.objects.create_user
        user = create(email, password, name=args.name)
        if org is not None:
            services.set_membership(None, org, user, Role(args.role))
    if args.json:
        print_json(
            {
                "id": user.pk,
                "email": user.email,
                "superuser": user.is_superuser,
                "organization": org.name if org else None,
            }
        )
    else:
        print(f"created user {user.email}" + (f" ({args.role} in {org})" if org else ""))
    return 0


def token_create(args: argparse.Namespace) -> int:
    setup_django()
    from steward.accounts.models import ApiToken, User
    from steward.audit import context
    from steward.tenancy.roles import Role

    user = User.objects.filter(email=args.user.strip().lower(), is_active=True).first()
    if user is None:
        raise CliError(f"no active user with email {args.user!r}")
    if args.expires_days < 1:
        raise CliError("--expires-days must be at least 1", 2)
    with context.acting_as(label=f"cli:{getpass.getuser()}", source="cli"):
        token, secret = ApiToken.issue(
            user,
            args.name,
            Role(args.role) if args.role else None,
            timedelta(days=args.expires_days),
        )
    print(
        f"token {token.prefix}… for {user.email}, expires {token.expires_at:%Y-%m-%d}; "
        "it is shown only once:",
        file=sys.stderr,
    )
    print(secret)
    return 0
