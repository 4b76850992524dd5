"""Sign-in, sign-out, two-factor authentication and the account page."""

from __future__ import annotations

import time

import pyotp
import pytest
from django.test import Client
from tests.server.conftest import PASSWORD

from steward.accounts import totp
from steward.accounts.models import LoginFailure
from steward.console.core.auth import PENDING_KEY

pytestmark = pytest.mark.django_db


def sign_in(client: Client, email: str, password: str = PASSWORD, **extra):
    return client.post("/login/", {"email": email, "password": password, **extra})


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def enable_totp(user) -> str:
    secret = totp.new_secret()
    user.totp_secret, user.totp_enabled = secret, True
    user.save()
    return secret


def test_login_page_renders_a_form(client):
    response = client.get("/login/")
    assert response.status_code == 200
    assert b'name="email"' in response.content
    assert b'name="password"' in response.content
    assert b"csrfmiddlewaretoken" in response.content


def test_console_pages_send_anonymous_visitors_to_sign_in(client):
    response = client.get("/devices/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/devices/"


def test_it_signs_in_with_email_and_password(client, world):
    client.get("/login/")
    before = client.cookies["sessionid"].value if "sessionid" in client.cookies else None
    response = sign_in(client, "Tech@Acme.test")  # email is case-insensitive
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert signed_in(client)
    assert client.cookies["sessionid"].value != before


def test_wrong_password_is_refused_with_a_message(client, world):
    response = sign_in(client, "tech@acme.test", "wrong password")
    assert response.status_code == 200
    assert b"Wrong email or password." in response.content
    assert not signed_in(client)
    assert LoginFailure.objects.filter(email="tech@acme.test").count() == 1


def test_unknown_email_gets_the_same_message(client, world):
    response = sign_in(client, "nobody@acme.test", "whatever")
    assert b"Wrong email or password." in response.content


def test_sign_in_is_throttled_after_five_failures(client, world, settings):
    assert settings.STEWARD["login_max_failures"] == 5
    for _ in range(5):
        assert sign_in(client, "tech@acme.test", "guess").status_code == 200
    response = sign_in(client, "tech@acme.test")  # even the right password now
    assert response.status_code == 429
    assert b"Too many failed sign-in attempts" in response.content
    assert not signed_in(client)


def test_it_follows_a_local_next_url(client, world):
    response = sign_in(client, "tech@acme.test", next="/devices/?status=online")
    assert response["Location"] == "/devices/?status=online"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "javascript:x"])
def test_it_ignores_a_next_url_to_another_site(client, world, target):
    response = sign_in(client, "tech@acme.test", next=target)
    assert response["Location"] == "/"


def test_signed_in_user_visiting_login_goes_home(client, world):
    client.force_login(world.technician)
    assert client.get("/login/")["Location"] == "/"


def test_logout_requires_post(client, world):
    client.force_login(world.technician)
    assert client.get("/logout/").status_code == 405
    assert signed_in(client)
    response = client.post("/logout/")
    assert response["Location"] == "/login/"
    assert not signed_in(client)


def test_it_asks_for_a_code_when_two_factor_is_on(client, world):
    secret = enable_totp(world.technician)
    response = sign_in(client, "tech@acme.test", next="/devices/")
    assert response["Location"] == "/login/2fa/"
    assert not signed_in(client)
    assert client.get("/").status_code == 302  # not signed in yet

    page = client.get("/login/2fa/")
    assert b"tech@acme.test" in page.content

    response = client.post("/login/2fa/", {"code": pyotp.TOTP(secret).now()})
    assert response["Location"] == "/devices/"
    assert signed_in(client)
    assert PENDING_KEY not in client.session


def test_a_wrong_code_does_not_sign_in(client, world):
    enable_totp(world.technician)
    sign_in(client, "tech@acme.test")
    response = client.post("/login/2fa/", {"code": "000000"})
    assert response.status_code == 200
    assert b"That code is wrong or has expired" in response.content
    assert not signed_in(client)
    assert LoginFailure.objects.filter(email="tech@acme.test").count() == 1


def test_wrong_codes_are_throttled_too(client, world):
    secret = enable_totp(world.technician)
    sign_in(client, "tech@acme.test")
    for _ in range(5):
        client.post("/login/2fa/", {"code": "000000"})
    response = client.post("/login/2fa/", {"code": pyotp.TOTP(secret).now()})
    assert response.status_code == 429
    assert not signed_in(client)


def test_the_code_step_expires(client, world):
    secret = enable_totp(world.technician)
    sign_in(client, "tech@acme.test")
    session = client.session
    session[PENDING_KEY] = {**session[PENDING_KEY], "at": time.time() - 301}
    session.save()
    response = client.post("/login/2fa/", {"code": pyotp.TOTP(secret).now()})
    assert response["Location"] == "/login/"
    assert not signed_in(client)


def test_code_step_without_a_password_goes_back_to_sign_in(client, world):
    assert client.get("/login/2fa/")["Location"] == "/login/"


def test_organization_requiring_2fa_sends_members_to_set_it_up(client, world):
    world.acme.require_2fa = True
    world.acme.save()
    assert sign_in(client, "viewer@acme.test")["Location"] == "/"
    response = client.get("/devices/")
    assert response.status_code == 302
    assert response["Location"] == "/account/2fa/setup/"

    page = client.get("/account/2fa/setup/")
    assert page.status_code == 200
    assert b"Acme requires two-factor authentication" in page.content
    assert b"<svg" in page.content  # the QR code, rendered on the server
    secret = client.session["steward_totp_setup"]
    assert secret.encode() in page.content

    response = client.post("/account/2fa/setup/", {"code": pyotp.TOTP(secret).now()})
    assert response["Location"] == "/"
    world.viewer.refresh_from_db()
    assert world.viewer.totp_enabled and world.viewer.totp_secret == secret
    assert client.get("/devices/").status_code == 200


def test_setup_refuses_a_wrong_code(client, world):
    client.force_login(world.viewer)
    client.get("/account/2fa/setup/")
    response = client.post("/account/2fa/setup/", {"code": "123456"})
    assert b"That code does not match" in response.content
    world.viewer.refresh_from_db()
    assert not world.viewer.totp_enabled


def test_setup_keeps_the_same_secret_across_reloads(client, world):
    client.force_login(world.viewer)
    client.get("/account/2fa/setup/")
    first = client.session["steward_totp_setup"]
    client.get("/account/2fa/setup/")
    assert client.session["steward_totp_setup"] == first


def test_disabling_2fa_needs_a_current_code(client, world):
    secret = enable_totp(world.viewer)
    client.force_login(world.viewer)
    client.post("/account/2fa/disable/", {"code": "000000"})
    world.viewer.refresh_from_db()
    assert world.viewer.totp_enabled
    client.post("/account/2fa/disable/", {"code": pyotp.TOTP(secret).now()})
    world.viewer.refresh_from_db()
    assert not world.viewer.totp_enabled and world.viewer.totp_secret == ""


def test_disabling_2fa_is_refused_when_an_organization_requires_it(client, world):
    secret = enable_totp(world.viewer)
    world.acme.require_2fa = True
    world.acme.save()
    client.force_login(world.viewer)
    response = client.post("/account/2fa/disable/", {"code": pyotp.TOTP(secret).now()}, follow=True)
    assert b"Acme requires it" in response.content
    world.viewer.refresh_from_db()
    assert world.viewer.totp_enabled


def test_account_page_changes_the_name(client, world):
    client.force_login(world.viewer)
    response = client.post("/account/", {"action": "profile", "name": "Vera Viewer"})
    assert response["Location"] == "/account/"
    world.viewer.refresh_from_db()
    assert world.viewer.name == "Vera Viewer"
    assert b"Vera Viewer" in client.get("/account/").content


def test_account_page_changes_the_password_and_keeps_the_session(client, world):
    client.force_login(world.viewer)
    new = "another long passphrase 42"
    response = client.post(
        "/account/",
        {
            "action": "password",
            "old_password": PASSWORD,
            "new_password1": new,
            "new_password2": new,
        },
    )
    assert response["Location"] == "/account/"
    world.viewer.refresh_from_db()
    assert world.viewer.check_password(new)
    assert client.get("/account/").status_code == 200  # still signed in


def test_password_change_needs_the_old_password(client, world):
    client.force_login(world.viewer)
    new = "another long passphrase 42"
    response = client.post(
        "/account/",
        {
            "action": "password",
            "old_password": "wrong",
            "new_password1": new,
            "new_password2": new,
        },
    )
    assert response.status_code == 200
    assert b"errorlist" in response.content
    world.viewer.refresh_from_db()
    assert world.viewer.check_password(PASSWORD)
