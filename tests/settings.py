"""Settings for the test run: the real settings, with a throw-away data directory.

``steward.server.settings`` reads ``STEWARD_HOME`` when imported, and pytest-django imports
the settings before any conftest runs, so the test home is chosen here.
"""

import atexit
import os
import shutil
import tempfile

if "STEWARD_HOME" not in os.environ:
    # Made only where none is set (``setdefault`` made one in every process importing
    # this, subprocesses included, and none was ever removed); removed when the process
    # that made it exits (its subprocesses inherit the variable).
    _home = tempfile.mkdtemp(prefix="steward-test-")
    os.environ["STEWARD_HOME"] = _home
    atexit.register(shutil.rmtree, _home, True)
os.environ.setdefault("STEWARD_LOG_LEVEL", "warning")

from steward.server.settings import *  # noqa: F403

PASSWORD_HASHERS = [
    # Argon2 is slow by design; tests create many users. Production keeps Argon2 first.
    "django.contrib.auth.hashers.MD5PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
]
