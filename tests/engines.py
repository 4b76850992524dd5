"""A fixture for tests that run the alert engine: its caches are per process.

Engines, compiled rule configs and device labels are cached in the process (steward.alerts
runtime and labels); a test that rolls its database back must not meet the previous test's
engine. Use ``pytestmark = pytest.mark.usefixtures("fresh_engines")`` after importing it.
"""

from __future__ import annotations

import pytest


@pytest.fixture
def fresh_engines():
    from steward.alerts import labels, runtime

    runtime.forget()
    labels.forget()
    yield
    runtime.forget()
    labels.forget()
