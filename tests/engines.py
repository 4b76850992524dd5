"""The alert engine's per-process caches, reset around every test (tests/conftest.py).

Engines, compiled rule configs, device labels and the rules' wanted inputs are cached in
the process (``steward.alerts`` runtime, labels, hooks). Tests roll their database back or
flush it, so organization ids repeat: an earlier test's engine or rules must never meet
the next test's organization of the same id.
"""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _fresh_alert_caches():
    from steward.alerts import labels, runtime

    runtime.forget()
    labels.forget()
    yield
    runtime.settle()  # the feeder's rounds belong to this test's database, not the next's
    runtime.forget()
    labels.forget()
