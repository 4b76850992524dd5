"""Check implementations shared by the agent (on the device) and the server's worker.

A pure package: standard library, psutil, httpx and optionally dnspython; no Django and
no other ``steward`` package, so the agent can ship it without the server.

Public API::

    from steward.checks import CheckSpec, run
    result = run(CheckSpec(type="tcp", target="db.example", params={"port": 5432}))
    result.status, result.message, result.latency_ms, result.perfdata

``run`` never raises. Each check type is a class in the registry (``REGISTRY``,
``describe_types()``) declaring its parameters and the side(s) allowed to run it.
Heartbeat (push) monitoring is separate and pure: ``steward.checks.heartbeat``.
"""

from __future__ import annotations

from typing import Any

# Importing the implementation modules registers their check types.
from steward.checks import (  # noqa: F401
    disk,
    dns,
    http,
    log,
    nagios,
    ping,
    process,
    service,
    tcp,
    tls,
)
from steward.checks.base import (
    CheckFailed,
    CheckResult,
    CheckSpec,
    Metric,
    Range,
    SpecError,
    Status,
)
from steward.checks.registry import REGISTRY, Check, Kind, Param, Side, get, run, types, validate
from steward.checks.state import CheckState, advance


def describe_types(side: Side | None = None) -> list[dict[str, Any]]:
    """Metadata of every registered check type (optionally those a side may run)."""
    return [REGISTRY[name].describe() for name in types(side)]


__all__ = [
    "REGISTRY",
    "Check",
    "CheckFailed",
    "CheckResult",
    "CheckSpec",
    "CheckState",
    "Kind",
    "Metric",
    "Param",
    "Range",
    "Side",
    "SpecError",
    "Status",
    "advance",
    "describe_types",
    "get",
    "run",
    "types",
    "validate",
]
