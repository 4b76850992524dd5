"""Token sign-in for CLI clients: passwords, throttling, two-factor."""

from __future__ import annotations

import pyotp
import pytest

from tests.server.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def sign_in(api, email, password, totp=""):
    return api.as_(None).post("auth/token", {"email": email, "password": password, "totp": totp})


def test_right_password_gives_a_working_token(api, world):
    response = sign_in(api, "tech@acme.test", PASSWORD)
    assert response.status_code == 201
    token = response.json()["token"]
    me = api.as_(None).get("me", HTTP_AUTHORIZATION=f"Bearer {token}").json()
    assert me["email"] == "tech@acme.test"
    assert me["memberships"][0]["role"] == "technician"


def test_wrong_password_is_401_and_throttled_after_five(api, world):
    for _ in range(5):
        assert sign_in(api, "tech@acme.test", "nope").status_code == 401
    response = sign_in(api, "tech@acme.test", PASSWORD)
    assert (response.status_code, response.json()["code"]) == (429, "throttled")


def test_two_factor_code_is_required_when_enabled(api, world):
    secret = pyotp.random_base32()
    world.technician.totp_secret, world.technician.totp_enabled = secret, True
    world.technician.save()
    response = sign_in(api, "tech@acme.test", PASSWORD)
    assert (response.status_code, response.json()["code"]) == (401, "totp_required")
    assert sign_in(api, "tech@acme.test", PASSWORD, "000000").status_code == 401
    ok = sign_in(api, "tech@acme.test", PASSWORD, pyotp.TOTP(secret).now())
    assert ok.status_code == 201


def test_org_that_requires_2fa_refuses_members_without_it(api, world):
    world.acme.require_2fa = True
    world.acme.save()
    response = sign_in(api, "tech@acme.test", PASSWORD)
    assert (response.status_code, response.json()["code"]) == (403, "totp_setup_required")


def test_expired_and_revoked_tokens_stop_working(api, world):
    from datetime import timedelta

    from django.utils import timezone

    from steward.accounts.models import ApiToken

    token, secret = ApiToken.issue(world.technician, "t", expires_in=timedelta(days=1))
    header = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    assert api.as_(None).get("me", **header).status_code == 200
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now())
    assert api.as_(None).get("me", **header).status_code == 401
    ApiToken.objects.filter(pk=token.pk).update(expires_at=None, revoked_at=timezone.now())
    assert api.as_(None).get("me", **header).status_code == 401


def test_tokens_are_stored_hashed(api, world):
    from steward.accounts.models import ApiToken

    secret = sign_in(api, "tech@acme.test", PASSWORD).json()["token"]
    stored = ApiToken.objects.get(user=world.technician)
    assert secret not in str(ApiToken.objects.filter(pk=stored.pk).values().first())
    assert stored.prefix == secret[:10]
