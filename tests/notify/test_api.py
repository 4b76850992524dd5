"""The notify API: channels with write-only secrets, the delivery log, preferences."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone

from steward.audit.models import AuditEntry
from steward.notify.models import Channel, Delivery, NotificationPreference
from tests.notify.conftest import webhook

pytestmark = pytest.mark.django_db

HOOK = {"url": "https://hooks.acme.test/steward", "timeout": 3}


def create(api, user, **body):
    payload = {"name": "Acme pager", "kind": "webhook", "config": HOOK, **body}
    return api.as_(user).post("channels", payload)


def test_an_admin_creates_a_webhook_and_sees_its_generated_secret_once(api, world):
    response = create(api, world.admin, organization_id=world.acme.pk)
    assert response.status_code == 201, response.content
    data = response.json()
    secret = data["generated_secrets"]["secret"]
    assert len(secret) >= 40 and data["secrets"] == {"secret": "********"}
    assert data["config"] == {"url": HOOK["url"], "timeout": 3.0}
    assert data["health"]["state"] == "ok" and data["created_by_id"] == world.admin.pk
    again = api.as_(world.viewer).get(f"channels/{data['id']}")
    assert again.status_code == 200 and secret not in again.content.decode()
    assert again.json()["secrets"] == {"secret": "********"}


def test_secrets_are_write_only_and_masked_in_the_audit_log(api, world):
    body = {
        "organization_id": world.acme.pk,
        "name": "Mail",
        "kind": "email",
        "config": {"host": "smtp.acme.test", "from_address": "s@acme.test", "to": ["o@acme.test"]},
        "secrets": {"password": "hunter2-smtp"},
    }
    created = api.as_(world.owner).post("channels", body)
    assert created.status_code == 201, created.content
    assert "hunter2-smtp" not in created.content.decode()
    assert created.json()["secrets"] == {"password": "********"}
    assert created.json()["config"]["security"] == "starttls"  # defaults filled in
    channel_id = created.json()["id"]
    patched = api.as_(world.owner).patch(
        f"channels/{channel_id}", {"secrets": {"password": "new-pass-42"}, "config": {"port": 465}}
    )
    assert patched.status_code == 200 and "new-pass-42" not in patched.content.decode()
    assert patched.json()["config"]["port"] == 465
    assert Channel.objects.get(pk=channel_id).secrets == {"password": "new-pass-42"}
    entries = AuditEntry.objects.filter(object_type="notify.channel", object_id=str(channel_id))
    assert [e.action for e in entries.order_by("id")] == ["create", "update"]
    dumped = json.dumps(list(entries.values("changes")))
    assert "hunter2" not in dumped and "new-pass-42" not in dumped
    assert entries.order_by("id").last().changes["secrets"] == ["********", "********"]


def test_an_apprise_url_shows_only_its_scheme(api, world):
    response = create(
        api,
        world.owner,
        organization_id=world.acme.pk,
        kind="apprise",
        config={},
        secrets={"url": "tgram://123456:bot-token/987654"},
    )
    assert response.status_code == 201, response.content
    assert response.json()["secrets"] == {"url": "tgram://********"}
    assert "bot-token" not in response.content.decode()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"kind": "webhook", "config": {}}, "config.url: Field required"),
        ({"kind": "webhook", "config": {"url": "ftp://x"}}, "config.url: Value error, must be"),
        (
            {"kind": "email", "config": {"host": "h", "from_address": "x", "to": ["a@b.test"]}},
            "config.from_address: Value error, 'x' is not an email address",
        ),
        ({"kind": "apprise", "config": {}, "secrets": {"url": "bogus://x"}}, "secrets.url:"),
        ({"kind": "webhook", "config": {**HOOK, "verify": False}}, "config.verify: Extra inputs"),
    ],
)
def test_invalid_settings_are_rejected_with_the_field_named(api, world, body, message):
    response = create(api, world.owner, organization_id=world.acme.pk, **body)
    assert response.status_code == 400, response.content
    assert response.json()["detail"].startswith(message), response.json()


def test_a_duplicate_name_conflicts(api, world):
    assert create(api, world.owner, organization_id=world.acme.pk).status_code == 201
    assert create(api, world.owner, organization_id=world.acme.pk).status_code == 409


def test_only_managers_change_channels(api, world):
    assert create(api, world.technician, organization_id=world.acme.pk).status_code == 403
    channel = webhook(world, "https://hooks.acme.test/x")
    assert (
        api.as_(world.technician).patch(f"channels/{channel.pk}", {"enabled": False}).status_code
        == 403
    )
    assert api.as_(world.viewer).post(f"channels/{channel.pk}/test").status_code == 403
    assert api.as_(world.viewer).delete(f"channels/{channel.pk}").status_code == 403
    assert api.as_(world.requester).get(f"channels/{channel.pk}").status_code == 404
    assert api.as_(world.admin).delete(f"channels/{channel.pk}").status_code == 204
    assert not Channel.objects.filter(pk=channel.pk).exists()


def test_the_test_button_sends_now_and_reports_the_outcome(api, world, receiver):
    good = webhook(world, receiver.url("/ok"), name="good")
    bad = webhook(world, receiver.url("/bad"), name="bad")
    ok = api.as_(world.admin).post(f"channels/{good.pk}/test")
    assert ok.status_code == 200, ok.content
    assert ok.json()["status"] == "sent" and ok.json()["event_kind"] == "notify.test"
    assert ok.json()["attempt_log"][0]["ok"] is True
    assert "admin@acme.test" in json.loads(receiver.to("/ok")[0].body)["text"]
    failed = api.as_(world.admin).post(f"channels/{bad.pk}/test").json()
    assert failed["status"] == "dead" and "HTTP 400" in failed["last_error"]
    assert AuditEntry.objects.filter(object_type="notify.channel", action="test").count() == 2


def test_the_delivery_log_filters_by_channel_and_status_and_retries_dead_letters(
    api, world, receiver
):
    good = webhook(world, receiver.url("/ok"), name="good")
    bad = webhook(world, receiver.url("/bad"), name="bad")
    api.as_(world.admin).post(f"channels/{good.pk}/test")
    api.as_(world.admin).post(f"channels/{bad.pk}/test")
    client = api.as_(world.viewer)
    assert client.get("deliveries").json()["count"] == 2
    dead = client.get("deliveries?status=dead").json()["items"]
    assert [d["channel"] for d in dead] == ["bad"]
    assert client.get(f"deliveries?channel_id={good.pk}").json()["items"][0]["status"] == "sent"
    assert client.get("deliveries?status=nonsense").status_code == 422
    detail = client.get(f"deliveries/{dead[0]['id']}").json()
    assert detail["attempt_log"][0]["permanent"] is True
    assert client.post(f"deliveries/{dead[0]['id']}/retry").status_code == 403
    retried = api.as_(world.technician).post(f"deliveries/{dead[0]['id']}/retry").json()
    assert retried["status"] == "pending" and retried["max_attempts"] == 1 + bad.max_attempts


def test_preferences_belong_to_the_caller(api, world):
    client = api.as_(world.viewer)
    defaults = client.get("me/notification-preferences").json()
    assert defaults["email_enabled"] is True and defaults["timezone"] == "UTC"
    body = {
        "email_enabled": True,
        "severities": ["critical"],
        "event_kinds": ["alert."],
        "quiet_hours_start": "22:00:00",
        "quiet_hours_end": "07:00:00",
        "timezone": "Europe/Paris",
    }
    saved = client.call("PUT", "me/notification-preferences", body)
    assert saved.status_code == 200, saved.content
    assert (
        saved.json()["severities"] == ["critical"] and saved.json()["quiet_hours_end"] == "07:00:00"
    )
    assert NotificationPreference.objects.get(user=world.viewer).timezone == "Europe/Paris"
    assert api.as_(world.owner).get("me/notification-preferences").json()["severities"] != [
        "critical"
    ]
    bad_zone = client.call("PUT", "me/notification-preferences", {"timezone": "Mars/Olympus"})
    assert bad_zone.status_code == 422 and "unknown time zone" in bad_zone.json()["detail"]
    half = client.call("PUT", "me/notification-preferences", {"quiet_hours_start": "22:00"})
    assert half.status_code == 400


# The outsider (owner of Globex) against Acme's notification objects: the same sweep as
# tests/server/test_tenant_isolation.py, for the routes of this app.
OUTSIDER_ROUTES = {
    ("GET", "channels"): (None, {200}),
    ("POST", "channels"): (
        {"organization_id": "{org}", "name": "rogue", "kind": "webhook", "config": HOOK},
        {404},
    ),
    ("GET", "channels/{channel_id}"): (None, {404}),
    ("PATCH", "channels/{channel_id}"): ({"name": "pwned", "enabled": False}, {404}),
    ("DELETE", "channels/{channel_id}"): (None, {404}),
    ("POST", "channels/{channel_id}/test"): ({}, {404}),
    ("GET", "deliveries"): (None, {200}),
    ("GET", "deliveries/{delivery_id}"): (None, {404}),
    ("POST", "deliveries/{delivery_id}/retry"): ({}, {404}),
    ("GET", "me/notification-preferences"): (None, {200}),
    ("PUT", "me/notification-preferences"): ({"email_enabled": False}, {200}),
}


@pytest.fixture
def acme_notify(world):
    channel = Channel.objects.create(
        organization=world.acme,
        name="Acme pager",
        kind="webhook",
        config=HOOK,
        secrets={"secret": "acme-secret"},
    )
    delivery = Delivery.objects.create(
        channel=channel,
        idempotency_key="acme-1",
        event_kind="alert.firing",
        subject="Acme disk full",
        payload={"subject": "Acme disk full"},
        status="dead",
        next_attempt_at=timezone.now(),
    )
    return {"org": world.acme.pk, "channel_id": channel.pk, "delivery_id": delivery.pk}


def _snapshot() -> str:
    return json.dumps(
        [list(Channel.objects.values()), list(Delivery.objects.values())], default=str
    )


def test_every_notify_route_is_in_the_sweep():
    from steward.notify.api import router

    declared = {
        (method, path.lstrip("/"))
        for path, view in router.path_operations.items()
        for op in view.operations
        for method in op.methods
    }
    assert declared == set(OUTSIDER_ROUTES)


@pytest.mark.parametrize(("method", "path"), sorted(OUTSIDER_ROUTES))
def test_the_outsider_neither_reads_nor_changes_acme(api, world, acme_notify, method, path):
    body, allowed = OUTSIDER_ROUTES[(method, path)]
    if body and body.get("organization_id") == "{org}":
        body = {**body, "organization_id": acme_notify["org"]}
    url = path.format(**acme_notify)
    before = _snapshot()
    response = api.as_(world.outsider).call(method, url, body)
    assert response.status_code in allowed, (url, response.status_code, response.content)
    text = response.content.decode()
    assert "Acme" not in text and "acme-secret" not in text
    assert _snapshot() == before


@pytest.mark.parametrize(
    "path", ["channels/{channel_id}", "deliveries/{delivery_id}", "channels", "deliveries"]
)
def test_acme_itself_reads_them(api, world, acme_notify, path):
    response = api.as_(world.owner).get(path.format(**acme_notify))
    assert response.status_code == 200 and "Acme" in response.content.decode()
    assert "acme-secret" not in response.content.decode()
