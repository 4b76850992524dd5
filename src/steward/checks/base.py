"""The typed vocabulary every check speaks: statuses, metrics, thresholds, specs, results.

This package is shared by the agent (checks run on the device) and the server's worker
(synthetic and agentless checks), so it depends on nothing but the standard library,
psutil, httpx and, optionally, dnspython. Nothing here may import Django or other parts
of ``steward``; ``tests/checks/test_isolation.py`` enforces it.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

MIN_INTERVAL_S = 1.0
MAX_INTERVAL_S = 24 * 3600.0
MAX_TIMEOUT_S = 300.0


class SpecError(ValueError):
    """A check specification is invalid. ``field`` names the offending field (``params.port``)
    so that an API can return it as a stable, readable first error."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class CheckFailed(Exception):
    """A check could not produce a verdict (not the same as a verdict of *critical*).

    Implementations raise it for conditions such as "dnspython is not installed"; the runner
    turns it into an ``unknown`` result carrying the message.
    """


class Status(enum.Enum):
    """A check's verdict. The values are the Nagios plugin exit codes (0..3), which is also
    the wire format, so a Nagios plugin's exit code maps one to one."""

    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3

    @property
    def label(self) -> str:
        """Lower-case name used in messages and JSON (``"ok"``, ``"critical"``, ...)."""
        return self.name.lower()

    @property
    def severity(self) -> int:
        """Rank for "worst of" decisions: ok < warning < unknown < critical. Unknown ranks
        above warning because a check that cannot tell is more urgent than a soft warning,
        but below critical, which is a confirmed failure (the Icinga 2 ordering)."""
        return {0: 0, 1: 1, 3: 2, 2: 3}[self.value]

    @classmethod
    def from_label(cls, label: str) -> Status:
        try:
            return cls[label.upper()]
        except KeyError:
            raise ValueError(f"unknown status {label!r}") from None

    @classmethod
    def worst(cls, *statuses: Status) -> Status:
        return max(statuses, key=lambda s: s.severity, default=cls.OK)


@dataclass(frozen=True, slots=True)
class Range:
    """A Nagios threshold range (Nagios plugin development guidelines, "Threshold and
    ranges"): ``10`` alerts outside 0..10, ``10:`` below 10, ``~:10`` above 10, ``10:20``
    outside 10..20, ``@10:20`` inside 10..20. ``None`` bounds are infinite.
    """

    start: float | None = 0.0
    end: float | None = None
    inside: bool = False

    @classmethod
    def parse(cls, text: str) -> Range:
        """Parse the guideline syntax; raises ``ValueError`` on anything else."""
        raw = text.strip()
        inside = raw.startswith("@")
        body = raw[1:] if inside else raw
        try:
            if ":" in body:
                start_s, end_s = body.split(":", 1)
                start = None if start_s == "~" else float(start_s) if start_s else 0.0
                end = float(end_s) if end_s else None
            else:
                start, end = 0.0, float(body)
        except ValueError:
            raise ValueError(f"not a Nagios range: {text!r}") from None
        if start is not None and end is not None and start > end:
            raise ValueError(f"range start above end: {text!r}")
        return cls(start=start, end=end, inside=inside)

    @classmethod
    def above(cls, limit: float) -> Range:
        """Alert when the value rises above ``limit`` (e.g. latency, error count)."""
        return cls(start=None, end=float(limit))

    @classmethod
    def below(cls, limit: float) -> Range:
        """Alert when the value falls below ``limit`` (e.g. free space, days left)."""
        return cls(start=float(limit), end=None)

    def alerts(self, value: float) -> bool:
        """True when ``value`` violates the range."""
        lo = -math.inf if self.start is None else self.start
        hi = math.inf if self.end is None else self.end
        within = lo <= value <= hi
        return within if self.inside else not within

    def __str__(self) -> str:
        def num(x: float) -> str:
            return str(int(x)) if float(x).is_integer() else repr(x)

        start = "~" if self.start is None else num(self.start)
        end = "" if self.end is None else num(self.end)
        text = end if start == "0" and end else f"{start}:{end}"
        return ("@" if self.inside else "") + text


@dataclass(frozen=True, slots=True)
class Metric:
    """One performance-data item. ``value`` is ``None`` when a plugin reports ``U`` (the
    value could not be determined). ``unit`` is a Nagios UOM (``""``, ``s``, ``ms``, ``us``,
    ``%``, ``B``, ``KB``, ``MB``, ``GB``, ``TB``, ``c``) or another plugin-chosen unit."""

    name: str
    value: float | None
    unit: str = ""
    warn: Range | None = None
    crit: Range | None = None
    min: float | None = None
    max: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.value,
            "unit": self.unit,
            "warn": None if self.warn is None else str(self.warn),
            "crit": None if self.crit is None else str(self.crit),
            "min": self.min,
            "max": self.max,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Metric:
        def rng(x: Any) -> Range | None:
            return None if x in (None, "") else Range.parse(str(x))

        return cls(
            name=str(data["name"]),
            value=None if data.get("value") is None else float(data["value"]),
            unit=str(data.get("unit") or ""),
            warn=rng(data.get("warn")),
            crit=rng(data.get("crit")),
            min=None if data.get("min") is None else float(data["min"]),
            max=None if data.get("max") is None else float(data["max"]),
        )


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class CheckResult:
    """What one run of a check observed.

    ``latency_ms`` is the time the probed thing took to answer (connect, response, RTT),
    not the check's own overhead; ``None`` when the check has no such notion. ``state`` is
    the opaque dict a stateful check (``log``) wants handed back on its next run; ``None``
    means "keep the state you have" (a run that timed out must not reset a log offset).
    ``details`` is optional multi-line text (a Nagios plugin's long output).
    """

    status: Status
    message: str
    latency_ms: float | None = None
    perfdata: tuple[Metric, ...] = ()
    observed_at: datetime = field(default_factory=utcnow)
    state: dict[str, Any] | None = None
    details: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status.label,
            "message": self.message,
            "latency_ms": self.latency_ms,
            "perfdata": [m.to_dict() for m in self.perfdata],
            "observed_at": self.observed_at.isoformat(),
            "state": self.state,
            "details": self.details,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CheckResult:
        return cls(
            status=Status.from_label(str(data["status"])),
            message=str(data.get("message", "")),
            latency_ms=None if data.get("latency_ms") is None else float(data["latency_ms"]),
            perfdata=tuple(Metric.from_dict(m) for m in data.get("perfdata", ())),
            observed_at=datetime.fromisoformat(str(data["observed_at"])),
            state=data.get("state"),
            details=str(data.get("details") or ""),
        )


def unknown(message: str) -> CheckResult:
    return CheckResult(status=Status.UNKNOWN, message=message)


def grade(value: float, warn: Range | None, crit: Range | None) -> Status:
    """The status a value earns against optional warning and critical ranges."""
    if crit is not None and crit.alerts(value):
        return Status.CRITICAL
    if warn is not None and warn.alerts(value):
        return Status.WARNING
    return Status.OK


@dataclass(frozen=True, slots=True)
class CheckSpec:
    """What to check and how often; the unit a scheduler stores and ships to agents.

    ``interval`` and ``timeout`` are seconds. ``retries`` is how many further non-OK
    results are tolerated (as a *soft* state) before the state becomes *hard* and alerts:
    0, the default, changes state on the first failed result (see ``steward.checks.state``).
    ``params`` are validated against the check type's parameter table by
    ``steward.checks.registry.validate``.
    """

    type: str
    target: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)
    interval: float = 60.0
    timeout: float = 10.0
    retries: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.type, str) or not self.type:
            raise SpecError("type", "is required")
        if not isinstance(self.target, str):
            raise SpecError("target", "must be a string")
        if not isinstance(self.params, Mapping):
            raise SpecError("params", "must be an object")
        for name, lo, hi in (
            ("interval", MIN_INTERVAL_S, MAX_INTERVAL_S),
            ("timeout", 0.0, MAX_TIMEOUT_S),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise SpecError(name, "must be a number of seconds")
            if not (lo <= value <= hi) or (name == "timeout" and value <= 0):
                raise SpecError(name, f"must be between {lo:g} and {hi:g} seconds")
        if isinstance(self.retries, bool) or not isinstance(self.retries, int):
            raise SpecError("retries", "must be an integer")
        if not 0 <= self.retries <= 10:
            raise SpecError("retries", "must be between 0 and 10")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CheckSpec:
        """Build from JSON-shaped data; unknown keys are an error, not silently ignored."""
        allowed = {"type", "target", "params", "interval", "timeout", "retries"}
        extra = sorted(set(data) - allowed)
        if extra:
            raise SpecError(extra[0], "unknown field")
        return cls(**{k: data[k] for k in allowed if k in data})

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "target": self.target,
            "params": dict(self.params),
            "interval": self.interval,
            "timeout": self.timeout,
            "retries": self.retries,
        }
