from __future__ import annotations

import pytest
from django.conf import settings as django_settings

from tests.server.conftest import *  # noqa: F403

# Until the lead adds "steward.alerts" to INSTALLED_APPS (tests/alerts/LEAD_TODO.md), the
# app's models cannot load: skip collecting these tests instead of breaking the suite. Run
# them early with a settings module that adds the app (see LEAD_TODO.md).
INSTALLED = "steward.alerts" in django_settings.INSTALLED_APPS
collect_ignore_glob = [] if INSTALLED else ["test_*.py", "isolation.py", "urls.py", "util.py"]


@pytest.fixture(autouse=True)
def _alerts_urls(settings):
    from tests.alerts import urls

    if not (urls.MOUNTED and urls.PINGS_MOUNTED):
        settings.ROOT_URLCONF = "tests.alerts.urls"


@pytest.fixture(autouse=True)
def _fresh_caches():
    """Engines, compiled configs and label caches are per process: start each test clean."""
    from steward.alerts import labels, runtime

    runtime.forget()
    labels.forget()
    yield
    runtime.forget()
    labels.forget()


from tests.notify.conftest import email_channel, receiver, smtp, webhook  # noqa: E402, F401


def device_auth(device) -> dict[str, str]:
    """A fresh credential for ``device`` (the fixture devices have random unknown ones)."""
    from steward.accounts import tokens
    from steward.inventory.models import Device

    secret = tokens.new_secret(tokens.DEVICE_CREDENTIAL_PREFIX)
    Device.objects.filter(pk=device.pk).update(credential_hash=tokens.hash_secret(secret))
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def wait_for(predicate, timeout: float = 5.0):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    return predicate()
