"""TOTP two-factor authentication (RFC 6238) with pyotp."""

from __future__ import annotations

import pyotp

ISSUER = "Steward"


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def verify(secret: str, code: str) -> bool:
    """Accept the current code and its neighbours (±30 s) to tolerate clock drift."""
    code = "".join(ch for ch in code if ch.isdigit())
    if not secret or len(code) != 6:
        return False
    return pyotp.TOTP(secret).verify(code, valid_window=1)
