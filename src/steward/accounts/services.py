"""Sign-in checks shared by the console login form and the API's token exchange."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import authenticate

from steward.accounts import throttle, totp
from steward.accounts.models import User


class SignInError(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code, self.detail = code, detail


@dataclass
class SignIn:
    user: User
    needs_totp: bool


def check_password(email: str, password: str, address: str | None) -> SignIn:
    """Verify the password, with throttling; the TOTP step (if any) comes after."""
    email = email.strip().lower()
    if throttle.is_throttled(email, address):
        raise SignInError("throttled", "too many failed sign-ins: try again later")
    user = authenticate(username=email, password=password)
    if user is None:
        throttle.record_failure(email, address)
        raise SignInError("invalid_credentials", "wrong email or password")
    if not user.totp_enabled:
        throttle.clear(email)  # signed in: earlier failures no longer count against the account
    return SignIn(user=user, needs_totp=user.totp_enabled)


def check_totp(user: User, code: str, address: str | None) -> None:
    if throttle.is_throttled(user.email, address):
        raise SignInError("throttled", "too many failed sign-ins: try again later")
    if not totp.verify(user.totp_secret, code):
        throttle.record_failure(user.email, address)
        raise SignInError("invalid_totp", "wrong or expired two-factor code")
    throttle.clear(user.email)
