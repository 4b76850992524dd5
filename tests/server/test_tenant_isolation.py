"""Every API route, walked as a member of another organization.

The outsider is the *owner* of Globex: full power at home, none in Acme. For every route in
the OpenAPI document this test sends a well-formed request aimed at Acme's objects and
requires that nothing of Acme is read or changed: object routes answer 404 (not 403,
which would confirm the id exists), list routes leave Acme out. A route added to the API
without an entry here fails the test, so isolation is proven for new routes too.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from steward.accounts.models import ApiToken
from steward.api.v1 import api as ninja_api
from steward.audit.models import AuditEntry
from steward.inventory.models import Device, EnrollmentToken
from steward.metrics.models import MetricsSettings, ScrapeTarget
from steward.notify.models import Channel, Delivery
from steward.tenancy.models import Membership, Organization, Site
from tests.alerts.isolation import ALERTS_ROUTES, alerts_ids, alerts_path, alerts_snapshot
from tests.helpdesk.isolation import (
    HELPDESK_ROUTES,
    helpdesk_ids,
    helpdesk_path,
    helpdesk_snapshot,
)
from tests.insights.isolation import INSIGHTS_ROUTES, insights_snapshot

pytestmark = pytest.mark.django_db

ACME_MARKERS = ("Acme", "acme-ws-01", "HQ", "@acme.test")

# method, path template -> (body, allowed statuses). "{x}" ids are filled with Acme's.
ROUTES: dict[tuple[str, str], tuple[dict | None, set[int]]] = {
    ("GET", "/api/v1/me"): (None, {200}),
    ("POST", "/api/v1/auth/token"): ({"email": "owner@acme.test", "password": "wrong"}, {401}),
    ("GET", "/api/v1/tokens"): (None, {200}),
    ("POST", "/api/v1/tokens"): ({"name": "mine"}, {201}),
    ("DELETE", "/api/v1/tokens/{token_id}"): (None, {404}),
    ("GET", "/api/v1/users"): (None, {200}),
    ("POST", "/api/v1/users"): (
        {
            "email": "new@x.test",
            "password": "a long enough password",
            "organization_id": "{org}",
            "role": "viewer",
        },
        {404},
    ),
    ("GET", "/api/v1/orgs"): (None, {200}),
    ("POST", "/api/v1/orgs"): ({"name": "Acme"}, {403}),
    ("GET", "/api/v1/orgs/{org_id}"): (None, {404}),
    ("PATCH", "/api/v1/orgs/{org_id}"): ({"name": "Pwned", "require_2fa": False}, {404}),
    ("DELETE", "/api/v1/orgs/{org_id}"): (None, {404}),
    ("GET", "/api/v1/sites"): (None, {200}),
    ("POST", "/api/v1/sites"): ({"organization_id": "{org}", "name": "Rogue"}, {404}),
    ("GET", "/api/v1/sites/{site_id}"): (None, {404}),
    ("PATCH", "/api/v1/sites/{site_id}"): ({"name": "Pwned"}, {404}),
    ("DELETE", "/api/v1/sites/{site_id}"): (None, {404}),
    ("GET", "/api/v1/memberships"): (None, {200}),
    ("POST", "/api/v1/memberships"): (
        {"organization_id": "{org}", "email": "owner@globex.test", "role": "owner"},
        {404},
    ),
    ("PATCH", "/api/v1/memberships/{membership_id}"): ({"role": "viewer"}, {404}),
    ("DELETE", "/api/v1/memberships/{membership_id}"): (None, {404}),
    ("GET", "/api/v1/devices"): (None, {200}),
    ("GET", "/api/v1/devices/{device_id}"): (None, {404}),
    ("PATCH", "/api/v1/devices/{device_id}"): ({"display_name": "pwned", "tags": ["x"]}, {404}),
    ("DELETE", "/api/v1/devices/{device_id}"): (None, {404}),
    ("POST", "/api/v1/devices/{device_id}/revoke"): ({}, {404}),
    ("GET", "/api/v1/devices/{device_id}/software"): (None, {404}),
    ("GET", "/api/v1/devices/{device_id}/status-changes"): (None, {404}),
    ("GET", "/api/v1/tags"): (None, {200}),
    ("GET", "/api/v1/enrollment-tokens"): (None, {200}),
    ("POST", "/api/v1/enrollment-tokens"): ({"site_id": "{site}", "name": "rogue"}, {404}),
    ("DELETE", "/api/v1/enrollment-tokens/{token_id}"): (None, {404}),
    ("GET", "/api/v1/audit"): (None, {200}),
    ("GET", "/api/v1/channels"): (None, {200}),
    ("POST", "/api/v1/channels"): (
        {
            "organization_id": "{org}",
            "name": "rogue",
            "kind": "webhook",
            "config": {"url": "https://rogue.test/hook"},
        },
        {404},
    ),
    ("GET", "/api/v1/channels/{channel_id}"): (None, {404}),
    ("PATCH", "/api/v1/channels/{channel_id}"): ({"name": "pwned", "enabled": False}, {404}),
    ("DELETE", "/api/v1/channels/{channel_id}"): (None, {404}),
    ("POST", "/api/v1/channels/{channel_id}/test"): ({}, {404}),
    ("GET", "/api/v1/deliveries"): (None, {200}),
    ("GET", "/api/v1/deliveries/{delivery_id}"): (None, {404}),
    ("POST", "/api/v1/deliveries/{delivery_id}/retry"): ({}, {404}),
    # The caller's own preferences: the outsider changes only their own.
    ("GET", "/api/v1/me/notification-preferences"): (None, {200}),
    ("PUT", "/api/v1/me/notification-preferences"): ({"email_enabled": False}, {200}),
    ("GET", "/api/v1/scrape-targets"): (None, {200}),
    ("POST", "/api/v1/scrape-targets"): (
        {"organization_id": "{org}", "url": "http://10.0.0.9:9100/metrics"},
        {404},
    ),
    ("GET", "/api/v1/scrape-targets/{target_id}"): (None, {404}),
    ("PATCH", "/api/v1/scrape-targets/{target_id}"): ({"enabled": False}, {404}),
    ("DELETE", "/api/v1/scrape-targets/{target_id}"): (None, {404}),
    # Without a scope the read is refused (422); with Acme's device, site or organization
    # it is a 404 (tests/metrics/test_collection_api.py, which also checks reads).
    ("GET", "/api/v1/metrics/collection"): (None, {422}),
    ("PUT", "/api/v1/metrics/collection"): ({"device_id": "{device_id}", "interval": 5}, {404}),
    # Push ingest writes into the caller's own organization (Globex here); naming Acme
    # with ?org= is a 404, tested in tests/metrics. Bodies that are not valid line protocol
    # or snappy are refused.
    ("POST", "/api/v1/write"): ({"not": "line protocol"}, {400}),
    ("POST", "/api/v1/api/v2/write"): ({"not": "line protocol"}, {400}),
    ("POST", "/api/v1/prom/write"): ({"not": "snappy"}, {400, 415}),
    # Agent routes take device credentials, never a person's token.
    ("POST", "/api/v1/agent/enroll"): ({"token": "set_guess", "hostname": "rogue"}, {401}),
    ("POST", "/api/v1/agent/heartbeat"): ({"sent_at": "2026-01-01T00:00:00Z"}, {401}),
    ("POST", "/api/v1/agent/inventory"): ({"sent_at": "2026-01-01T00:00:00Z"}, {401}),
    ("POST", "/api/v1/agent/metrics"): ({"sent_at": "2026-01-01T00:00:00Z"}, {401}),
    ("GET", "/api/v1/agent/scrape-targets"): (None, {401}),
    ("POST", "/api/v1/agent/scrape-results"): ({"results": []}, {401}),
}

ROUTES.update(HELPDESK_ROUTES)
ROUTES.update(INSIGHTS_ROUTES)
ROUTES.update(ALERTS_ROUTES)


def api_routes() -> set[tuple[str, str]]:
    schema = ninja_api.get_openapi_schema(path_prefix="/api/v1/")
    return {
        (method.upper(), path)
        for path, operations in schema["paths"].items()
        for method in operations
    }


def test_every_route_is_covered():
    assert api_routes() == set(ROUTES), "add the new route to ROUTES with its expectation"


def snapshot() -> str:
    return json.dumps(
        [
            list(Organization.objects.filter(name="Acme").values()),
            list(Site.objects.filter(organization__name="Acme").values()),
            list(Device.objects.filter(organization__name="Acme").values()),
            list(Membership.objects.filter(organization__name="Acme").values()),
            list(EnrollmentToken.objects.filter(organization__name="Acme").values()),
            list(ApiToken.objects.filter(user__email__endswith="@acme.test").values()),
            list(Channel.objects.filter(organization__name="Acme").values()),
            list(Delivery.objects.filter(channel__organization__name="Acme").values()),
            helpdesk_snapshot(),
            insights_snapshot(),
            alerts_snapshot(),
            list(ScrapeTarget.objects.filter(organization__name="Acme").values()),
            list(MetricsSettings.objects.filter(organization__name="Acme").values()),
        ],
        default=str,
    )


@pytest.fixture
def acme_ids(world):
    _, _ = ApiToken.issue(world.owner, "acme owner's token")
    token, _ = EnrollmentToken.issue(world.acme_hq, "acme", timedelta(hours=1))
    channel = Channel.objects.create(
        organization=world.acme,
        name="Acme pager",
        kind="webhook",
        config={"url": "https://hooks.acme.test/x", "timeout": 5.0},
        secrets={"secret": "acme-secret"},
    )
    delivery = Delivery.objects.create(
        channel=channel,
        idempotency_key="acme-1",
        event_kind="alert.firing",
        subject="Acme disk full",
        payload={"subject": "Acme disk full", "text": ""},
        status="dead",
        next_attempt_at=timezone.now(),
    )
    ids = {
        "org_id": world.acme.pk,
        "org": world.acme.pk,
        "site_id": world.acme_hq.pk,
        "site": world.acme_hq.pk,
        "device_id": world.acme_device.pk,
        "membership_id": Membership.objects.get(user=world.owner).pk,
        "enrollment_token_id": token.pk,
        "api_token_id": ApiToken.objects.filter(user=world.owner).first().pk,
        "channel_id": channel.pk,
        "target_id": ScrapeTarget.objects.create(
            organization=world.acme, url="http://10.0.0.5:9100/metrics"
        ).pk,
        "delivery_id": delivery.pk,
    }
    ids.update(helpdesk_ids(world))
    ids.update(alerts_ids(world))
    return ids


def fill(value, ids: dict, path: str):
    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        return ids[value[1:-1]]
    if isinstance(value, dict):
        return {k: fill(v, ids, path) for k, v in value.items()}
    return value


def concrete(path: str, ids: dict) -> str:
    path = helpdesk_path(path, ids)
    path = alerts_path(path, ids)
    token_id = ids["enrollment_token_id"] if "enrollment" in path else ids["api_token_id"]
    return (
        path.replace("{token_id}", str(token_id))
        .replace("{org_id}", str(ids["org_id"]))
        .replace("{site_id}", str(ids["site_id"]))
        .replace("{device_id}", str(ids["device_id"]))
        .replace("{membership_id}", str(ids["membership_id"]))
        .replace("{channel_id}", str(ids["channel_id"]))
        .replace("{target_id}", str(ids["target_id"]))
        .replace("{delivery_id}", str(ids["delivery_id"]))
    )


@pytest.mark.parametrize(("method", "path"), sorted(ROUTES))
def test_outsider_can_neither_read_nor_change_acme(api, world, acme_ids, method, path):
    body, allowed = ROUTES[(method, path)]
    before = snapshot()
    audit_before = AuditEntry.objects.filter(organization=world.acme).count()
    client = api.as_(world.outsider)
    url = concrete(path, acme_ids)
    response = client.call(method, url, fill(body, acme_ids, path) if body is not None else None)
    assert response.status_code in allowed, (url, response.status_code, response.content)
    if method == "GET" and response.status_code == 200:
        text = response.content.decode()
        leaked = [m for m in ACME_MARKERS if m in text]
        assert not leaked, f"{url} leaks {leaked}"
    assert snapshot() == before, f"{method} {url} changed Acme's data"
    assert AuditEntry.objects.filter(organization=world.acme).count() == audit_before


@pytest.mark.parametrize("path", sorted(p for m, p in ROUTES if "{" in p and m == "GET"))
def test_the_same_routes_work_for_acme_itself(api, world, acme_ids, path):
    """The control: the 404s above come from isolation, not from broken routes."""
    response = api.as_(world.owner).get(concrete(path, acme_ids))
    assert response.status_code == 200, response.content
