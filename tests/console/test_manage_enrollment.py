"""Enrollment tokens: list with states, create (secret shown once), revoke."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from steward.inventory.models import EnrollmentToken

pytestmark = pytest.mark.django_db


def create(client, world, **fields):
    data = {"site": world.acme_hq.pk, "name": "Laptops", "expires_in_hours": 24, **fields}
    return client.post("/settings/enrollment-tokens/new/", data)


def test_admin_creates_a_token_and_sees_the_secret_once(client, world):
    client.force_login(world.admin)
    response = create(client, world, max_uses=10)
    assert response.status_code == 200
    secret = response.context["secret"]
    assert 'class="secret-once"' in response.text
    assert f'data-copy="{secret}"' in response.text
    assert re.search(
        rf"steward agent enroll --server \S+ --token {re.escape(secret)}", response.text
    )

    token = EnrollmentToken.objects.get(name="Laptops")
    assert token.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert (token.site, token.max_uses, token.created_by) == (world.acme_hq, 10, world.admin)
    assert secret not in client.get("/settings/enrollment-tokens/").text


def test_the_list_shows_each_tokens_state(client, world):
    now = timezone.now()
    for name, fields in {
        "fresh": {},
        "old": {"expires_at": now - timedelta(minutes=1)},
        "gone": {"revoked_at": now},
        "spent": {"max_uses": 2, "uses": 2},
    }.items():
        token, _ = EnrollmentToken.issue(world.acme_hq, name, timedelta(hours=1))
        EnrollmentToken.objects.filter(pk=token.pk).update(**fields)
    client.force_login(world.admin)
    text = client.get("/settings/enrollment-tokens/").text
    for css in ("active", "expired", "revoked", "used-up"):
        assert f"status status-{css}" in text
    assert "2 / 2" in text


def test_admin_revokes_a_token(client, world):
    token, _ = EnrollmentToken.issue(world.acme_hq, "t", timedelta(hours=1))
    client.force_login(world.admin)
    url = f"/settings/enrollment-tokens/{token.pk}/revoke/"
    assert client.get(url).status_code == 405
    assert client.post(url).status_code == 302
    token.refresh_from_db()
    assert token.state == "revoked"


@pytest.mark.parametrize(
    ("persona", "revoke_status"),
    [
        ("technician", 403),
        ("viewer", 403),
        ("requester", 404),  # requesters cannot even view Acme's objects (scoping.get_for)
    ],
)
def test_below_admin_cannot_touch_enrollment_tokens(client, world, persona, revoke_status):
    token, _ = EnrollmentToken.issue(world.acme_hq, "t", timedelta(hours=1))
    client.force_login(getattr(world, persona))
    assert client.get("/settings/enrollment-tokens/").status_code == 403
    assert client.get("/settings/enrollment-tokens/new/").status_code == 403
    assert create(client, world).status_code == 403
    response = client.post(f"/settings/enrollment-tokens/{token.pk}/revoke/")
    assert response.status_code == revoke_status
    token.refresh_from_db()
    assert token.revoked_at is None
    assert EnrollmentToken.objects.count() == 1


def test_outsider_neither_sees_nor_revokes_nor_creates_acme_tokens(client, world):
    token, _ = EnrollmentToken.issue(world.acme_hq, "acme-token", timedelta(hours=1))
    client.force_login(world.outsider)
    assert "acme-token" not in client.get("/settings/enrollment-tokens/").text
    assert client.post(f"/settings/enrollment-tokens/{token.pk}/revoke/").status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None
    response = create(client, world, name="mole")
    assert response.status_code == 200  # HQ is not among the choices
    assert not EnrollmentToken.objects.filter(name="mole").exists()


def test_the_site_can_be_preselected(client, world):
    client.force_login(world.admin)
    response = client.get(f"/settings/enrollment-tokens/new/?site={world.acme_hq.pk}")
    assert response.context["form"]["site"].value() == str(world.acme_hq.pk)
