"""Random secrets that are shown once and stored as SHA-256 hashes.

The secrets carry 256 bits of entropy, so a fast hash is enough (no salt or slow KDF needed:
there is nothing to brute-force); the prefix tells a leaked string's kind at a glance, as
GitHub's token prefixes do, and lets secret scanners find it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

API_TOKEN_PREFIX = "stk_"  # noqa: S105 - a prefix, not a secret
ENROLLMENT_TOKEN_PREFIX = "set_"  # noqa: S105 - a prefix, not a secret
DEVICE_CREDENTIAL_PREFIX = "sdc_"


def new_secret(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def same_hash(a: str, b: str) -> bool:
    return hmac.compare_digest(a, b)


def display_prefix(secret: str) -> str:
    """What the console shows to tell tokens apart: kind plus 6 characters."""
    return secret[:10]
