from __future__ import annotations

from tests.notify.conftest import email_channel, receiver, smtp, webhook  # noqa: F401
from tests.server.conftest import *  # noqa: F403


def device_auth(device) -> dict[str, str]:
    """A fresh credential for ``device`` (the fixture devices have random unknown ones)."""
    from steward.accounts import tokens
    from steward.inventory.models import Device

    secret = tokens.new_secret(tokens.DEVICE_CREDENTIAL_PREFIX)
    Device.objects.filter(pk=device.pk).update(credential_hash=tokens.hash_secret(secret))
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def wait_for(predicate, timeout: float = 5.0):
    import time

    from django.db import OperationalError

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except OperationalError as exc:
            # The test database is in-memory SQLite with a shared cache: its table locks
            # fail at once instead of waiting, so a read racing a sender thread's write
            # ("database table is locked") is tried again.
            if "locked" not in str(exc):
                raise
            value = None
        if value:
            return value
        time.sleep(0.02)
    return predicate()
