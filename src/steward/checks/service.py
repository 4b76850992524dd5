"""``service``: the state of an operating-system service, through a per-OS backend.

Linux: systemd, read with ``systemctl show -p LoadState,ActiveState,SubState,Result``
(machine-readable ``Key=value`` lines, stable across systemd versions, unlike the prose of
``systemctl status``).

Other systems: there is **no** backend yet. The extension point is ``ServiceBackend``;
a Windows implementation would query the Service Control Manager (``QueryServiceStatusEx``
through ``pywin32``/``ctypes``, or ``psutil.win_service_get(name).as_dict()`` which psutil
already provides on Windows) and map SERVICE_RUNNING/STOPPED/... onto ``ServiceStatus``,
then be installed with ``register_backend("win32", WindowsServices())``. Until one is
registered, the check answers ``unknown`` saying so; it never pretends.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from typing import Any, Protocol

from steward.checks.base import CheckFailed, CheckResult, CheckSpec, SpecError, Status
from steward.checks.registry import Check, Context, Kind, Param, Side, register


@dataclass(frozen=True, slots=True)
class ServiceStatus:
    """A service's state in systemd's vocabulary, which other backends map onto:
    ``loaded`` false means the service does not exist; ``active`` is ActiveState
    (active, inactive, failed, activating, deactivating, reloading); ``sub`` the
    backend-specific detail (running, exited, dead); ``result`` how the last run ended
    (``success`` or a reason such as ``exit-code``, ``timeout``, ``signal``)."""

    name: str
    loaded: bool
    active: str
    sub: str
    result: str


class ServiceBackend(Protocol):
    """What a platform's service manager must answer. Raise ``CheckFailed`` when the
    manager itself cannot be queried (not when the service is missing: ``loaded=False``)."""

    def query(self, name: str, timeout: float) -> ServiceStatus: ...


def parse_systemctl_show(name: str, output: str) -> ServiceStatus:
    """Parse ``systemctl show -p LoadState,ActiveState,SubState,Result`` output."""
    values: dict[str, str] = {}
    for line in output.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = value.strip()
    if "ActiveState" not in values:
        raise CheckFailed(f"systemctl show printed no ActiveState for {name}: {output[:200]!r}")
    return ServiceStatus(
        name=name,
        loaded=values.get("LoadState", "loaded") not in ("not-found", "masked"),
        active=values["ActiveState"],
        sub=values.get("SubState", ""),
        result=values.get("Result", ""),
    )


class SystemdServices:
    """The systemd backend."""

    def query(self, name: str, timeout: float) -> ServiceStatus:
        command = ["systemctl", "show", "-p", "LoadState,ActiveState,SubState,Result", "--", name]
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=timeout, check=False
            )
        except FileNotFoundError:
            raise CheckFailed(
                "systemctl is not installed: this host does not run systemd"
            ) from None
        except subprocess.TimeoutExpired:
            raise CheckFailed(f"systemctl did not answer within {timeout:.1f} s") from None
        if done.returncode != 0:
            reason = (done.stderr or done.stdout).strip().splitlines()
            raise CheckFailed(f"systemctl failed: {reason[0] if reason else done.returncode}")
        return parse_systemctl_show(name, done.stdout)


_BACKENDS: dict[str, ServiceBackend] = {"linux": SystemdServices()}


def register_backend(platform: str, backend: ServiceBackend) -> None:
    """Install the backend for a ``sys.platform`` value (``"win32"``, ``"darwin"``...)."""
    _BACKENDS[platform] = backend


def backend_for(platform: str | None = None) -> ServiceBackend:
    platform = platform or sys.platform
    try:
        return _BACKENDS[platform]
    except KeyError:
        raise CheckFailed(
            f"service checks are not implemented on {platform} yet "
            "(see steward.checks.service.ServiceBackend)"
        ) from None


ACTIVE_STATES = ("active", "inactive", "failed", "activating", "deactivating", "reloading")


@register
class ServiceCheck(Check):
    name = "service"
    summary = "Service state (systemd on Linux; other platforms via a backend)"
    side = Side.AGENT
    target_help = "unit name, e.g. nginx.service"
    params = (
        Param(
            "expected",
            Kind.STR_LIST,
            "ActiveState values that are OK; 'inactive' suits oneshot units",
            default=["active"],
        ),
    )

    def check_params(self, values: dict[str, Any], spec: CheckSpec) -> None:
        for state in values["expected"]:
            if state not in ACTIVE_STATES:
                raise SpecError("params.expected", f"{state!r} is not one of {ACTIVE_STATES}")

    def execute(self, ctx: Context) -> CheckResult:
        status = backend_for().query(ctx.spec.target, ctx.remaining())
        return evaluate_service(status, ctx.params["expected"])


def evaluate_service(status: ServiceStatus, expected: list[str]) -> CheckResult:
    """Verdict for a queried status: missing or in an unexpected state is critical; a
    transition in progress (activating, reloading) is a warning; a last run that did not
    end in ``success`` is critical even if the state is expected (a oneshot unit that
    failed is ``inactive`` with ``Result=exit-code``)."""
    described = f"{status.name} is {status.active} ({status.sub})"
    if status.result and status.result != "success":
        described += f", last result {status.result}"
    if not status.loaded:
        return CheckResult(Status.CRITICAL, f"{status.name}: no such service")
    if status.result and status.result != "success":
        return CheckResult(Status.CRITICAL, described)
    if status.active in expected:
        return CheckResult(Status.OK, described)
    if status.active in ("activating", "reloading", "deactivating"):
        return CheckResult(Status.WARNING, described)
    return CheckResult(Status.CRITICAL, f"{described}; expected {' or '.join(expected)}")
