"""The signed-in user's API tokens: create (secret shown once), list, revoke."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.utils import timezone

from steward.accounts.models import ApiToken

pytestmark = pytest.mark.django_db


def test_it_creates_a_token_and_shows_the_secret_once(client, world):
    client.force_login(world.technician)
    response = client.post(
        "/settings/api-tokens/new/",
        {
            "name": "backup script",
            "role": "viewer",
            "expires_in_days": 30,
        },
    )
    assert response.status_code == 200
    secret = response.context["secret"]
    assert 'class="secret-once"' in response.text
    assert f'data-copy="{secret}"' in response.text

    token = ApiToken.objects.get(name="backup script")
    assert token.user == world.technician
    assert token.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert token.role == "viewer"
    assert timedelta(days=29) < token.expires_at - timezone.now() <= timedelta(days=30)
    assert ApiToken.authenticate(secret) == token

    listing = client.get("/settings/api-tokens/").text
    assert secret not in listing
    assert token.prefix in listing


def test_no_ceiling_and_no_expiry_are_allowed(client, world):
    client.force_login(world.viewer)
    response = client.post(
        "/settings/api-tokens/new/", {"name": "ci", "role": "", "expires_in_days": ""}
    )
    assert response.status_code == 200
    token = ApiToken.objects.get(name="ci")
    assert (token.role, token.expires_at) == ("", None)


def test_users_see_only_their_own_tokens(client, world):
    ApiToken.issue(world.owner, "owner's token")
    client.force_login(world.admin)
    assert "owner&#x27;s token" not in client.get("/settings/api-tokens/").text
    client.force_login(world.superuser)
    assert "owner&#x27;s token" not in client.get("/settings/api-tokens/").text


def test_it_revokes_its_own_token(client, world):
    token, secret = ApiToken.issue(world.viewer, "mine")
    client.force_login(world.viewer)
    url = f"/settings/api-tokens/{token.pk}/revoke/"
    assert client.get(url).status_code == 405
    assert client.post(url).status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert ApiToken.authenticate(secret) is None
    assert "status-revoked" in client.get("/settings/api-tokens/").text


def test_nobody_revokes_someone_elses_token(client, world):
    token, _ = ApiToken.issue(world.owner, "theirs")
    for persona in (world.admin, world.outsider, world.superuser):
        client.force_login(persona)
        assert client.post(f"/settings/api-tokens/{token.pk}/revoke/").status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None
