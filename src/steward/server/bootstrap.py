"""First run of ``steward up``: an admin, a default organization and site, and an
enrollment token for the machine Steward runs on. Every step is idempotent, so a second
run reuses what the first created."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from django.db import transaction

from steward.accounts.models import User
from steward.audit import context
from steward.inventory.models import Device, EnrollmentToken
from steward.tenancy import services
from steward.tenancy.models import Organization, Site

DEFAULT_ADMIN_EMAIL = "admin@localhost"
DEFAULT_ORGANIZATION = "My Company"
DEFAULT_SITE = "Main office"
AGENT_STATE_FILE = "agent.json"


@dataclass
class FirstRun:
    admin_email: str
    generated_password: str | None  # shown once, on the run that created the admin
    created_admin: bool
    enrollment_secret: str | None  # set when the local agent still has to enroll


def ensure_admin() -> tuple[User, str | None, bool]:
    email = os.environ.get("STEWARD_ADMIN_EMAIL", "").strip().lower() or DEFAULT_ADMIN_EMAIL
    existing = User.objects.filter(is_superuser=True).order_by("pk").first()
    if existing is not None:
        return existing, None, False
    given = os.environ.get("STEWARD_ADMIN_PASSWORD", "")
    password = given or secrets.token_urlsafe(12)
    user = User.objects.create_superuser(email, password, name="Administrator")
    return user, (None if given else password), True


def ensure_default_site(admin: User) -> Site:
    site = Site.objects.order_by("pk").first()
    if site is not None:
        return site
    org = Organization.objects.order_by("pk").first()
    if org is None:
        org = services.create_organization(None, DEFAULT_ORGANIZATION, owner=admin)
    return services.create_site(None, org, DEFAULT_SITE)


def local_agent_enrolled(state_dir: Path) -> bool:
    return (state_dir / AGENT_STATE_FILE).exists()


def first_run(agent_state_dir: Path | None) -> FirstRun:
    with context.acting_as(label="steward up", source="cli"), transaction.atomic():
        admin, password, created = ensure_admin()
        site = ensure_default_site(admin)
        from steward.alerts.defaults import ensure_all

        ensure_all()  # the default alert rule pack for every organization
        secret = None
        if agent_state_dir is not None and not local_agent_enrolled(agent_state_dir):
            _, secret = EnrollmentToken.issue(
                site,
                "local agent (steward up)",
                timedelta(hours=1),
                max_uses=1,
                created_by=admin,
            )
    return FirstRun(admin.email, password, created, secret)


def device_count() -> int:
    return Device.objects.active().count()
