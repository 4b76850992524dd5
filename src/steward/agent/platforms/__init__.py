"""The platform facade: one dispatch on ``sys.platform``, then typed results.

Collectors call ``current_platform()`` and never test ``sys.platform`` themselves (the
psutil layout: ``psutil/__init__.py`` over ``_pslinux.py`` and friends).

Adding an operating system: write ``platforms/<os>.py`` with a class that satisfies
``Platform`` (``family`` plus the six methods, returning the dataclasses from ``base``,
``None`` for what the OS does not tell), add its ``sys.platform`` prefix to
``current_platform``, and give it parser tests on captured command output like
``tests/agent/test_linux_parsers.py``. Until then the agent refuses to start there with
``UnsupportedPlatform`` rather than report a half-empty inventory.
"""

from __future__ import annotations

import functools
import sys

from steward.agent.platforms.base import (
    CommandFailed,
    Disk,
    HardwareInfo,
    OSInfo,
    Platform,
    SoftwarePackage,
    UnsupportedPlatform,
)

__all__ = [
    "CommandFailed",
    "Disk",
    "HardwareInfo",
    "OSInfo",
    "Platform",
    "SoftwarePackage",
    "UnsupportedPlatform",
    "current_platform",
]


@functools.cache
def current_platform() -> Platform:
    """The collectors for the running OS. Raises ``UnsupportedPlatform`` elsewhere."""
    if sys.platform.startswith("linux"):
        from steward.agent.platforms.linux import LinuxPlatform

        return LinuxPlatform()
    raise UnsupportedPlatform(sys.platform)
