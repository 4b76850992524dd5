from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.test import Client

from steward.accounts import tokens
from steward.accounts.models import ApiToken, User
from steward.inventory.models import Device, EnrollmentToken
from steward.tenancy.models import Membership, Organization, Site
from steward.tenancy.roles import Role

PASSWORD = "correct horse battery staple"


@dataclass
class World:
    acme: Organization
    acme_hq: Site
    globex: Organization
    globex_site: Site
    owner: User
    admin: User
    technician: User
    viewer: User
    requester: User
    outsider: User  # owner of Globex, nothing in Acme
    superuser: User
    acme_device: Device
    globex_device: Device


def make_user(email: str, org: Organization | None = None, role: Role | None = None) -> User:
    user = User.objects.create_user(email, PASSWORD)
    if org is not None and role is not None:
        Membership.objects.create(user=user, organization=org, role=role)
    return user


def make_device(site: Site, hostname: str, **fields) -> Device:
    return Device.objects.create(
        organization=site.organization,
        site=site,
        hostname=hostname,
        credential_hash=tokens.hash_secret(tokens.new_secret(tokens.DEVICE_CREDENTIAL_PREFIX)),
        **fields,
    )


@pytest.fixture
def world(db) -> World:
    acme = Organization.objects.create(name="Acme")
    globex = Organization.objects.create(name="Globex")
    acme_hq = Site.objects.create(organization=acme, name="HQ")
    globex_site = Site.objects.create(organization=globex, name="Plant")
    return World(
        acme=acme,
        acme_hq=acme_hq,
        globex=globex,
        globex_site=globex_site,
        owner=make_user("owner@acme.test", acme, Role.OWNER),
        admin=make_user("admin@acme.test", acme, Role.ADMIN),
        technician=make_user("tech@acme.test", acme, Role.TECHNICIAN),
        viewer=make_user("viewer@acme.test", acme, Role.VIEWER),
        requester=make_user("requester@acme.test", acme, Role.REQUESTER),
        outsider=make_user("owner@globex.test", globex, Role.OWNER),
        superuser=User.objects.create_superuser("root@msp.test", PASSWORD),
        acme_device=make_device(acme_hq, "acme-ws-01"),
        globex_device=make_device(globex_site, "globex-srv-01"),
    )


def bearer(user: User, role: Role | None = None) -> dict[str, str]:
    _, secret = ApiToken.issue(user, "test", role, timedelta(days=1))
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


@pytest.fixture
def api(db):
    """A Django test client speaking JSON to /api/v1 as a given user."""

    class ApiClient:
        def __init__(self) -> None:
            self.client = Client()
            self.headers: dict[str, str] = {}

        def as_(self, user: User | None, role: Role | None = None) -> ApiClient:
            self.headers = bearer(user, role) if user else {}
            return self

        def call(self, method: str, path: str, body=None, **headers):
            url = path if path.startswith("/") else f"/api/v1/{path}"
            kwargs = {**self.headers, **headers}
            if body is not None:
                return getattr(self.client, method.lower())(
                    url, data=body, content_type="application/json", **kwargs
                )
            return getattr(self.client, method.lower())(url, **kwargs)

        def get(self, path, **kw):
            return self.call("GET", path, **kw)

        def post(self, path, body=None, **kw):
            return self.call("POST", path, body if body is not None else {}, **kw)

        def patch(self, path, body, **kw):
            return self.call("PATCH", path, body, **kw)

        def put(self, path, body, **kw):
            return self.call("PUT", path, body, **kw)

        def delete(self, path, **kw):
            return self.call("DELETE", path, **kw)

    return ApiClient()


@pytest.fixture
def credential(world) -> str:
    """The metrics credential of ``world.acme_device`` (the secret an enrolled agent holds)."""
    secret = tokens.new_secret(tokens.DEVICE_CREDENTIAL_PREFIX)
    Device.objects.filter(pk=world.acme_device.pk).update(
        credential_hash=tokens.hash_secret(secret)
    )
    return secret


@pytest.fixture
def enrollment_secret(world) -> str:
    _, secret = EnrollmentToken.issue(world.acme_hq, "test", timedelta(hours=1), max_uses=5)
    return secret
