"""Plain-data inputs of the core and the small enums shared by several modules.

Times are POSIX seconds (``float``) everywhere: cheap to compare on the hot path, exact in
JSON, and free of time-zone ambiguity. Only calendars (maintenance windows, on-call rotations)
turn them into local wall-clock time, with :mod:`zoneinfo`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum, StrEnum

from steward.alerting._serde import Serde


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class CheckState(IntEnum):
    """Nagios states, ordered by badness so ``state >= WARNING`` reads naturally.

    ``UNKNOWN`` sorts last as in Nagios' exit codes; conditions decide separately whether it
    counts as failing (a check that cannot run is often a problem in itself).
    """

    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3


@dataclass(frozen=True)
class Sample(Serde):
    """One metric value: ``metric{labels} = value`` measured at ``ts``."""

    metric: str
    labels: dict[str, str]
    ts: float
    value: float


@dataclass(frozen=True)
class CheckResult(Serde):
    """One run of a check (ping, port, service, script...) on a device."""

    check: str
    labels: dict[str, str]
    ts: float
    state: CheckState
    output: str = ""


@dataclass(frozen=True)
class Heartbeat(Serde):
    """A device reported in (``online=True``) or was seen going away (``online=False``,
    e.g. the agent said goodbye on shutdown, which makes offline detection immediate)."""

    labels: dict[str, str]
    ts: float
    online: bool = True


Observation = Sample | CheckResult | Heartbeat


@dataclass
class CheckTrack(Serde):
    """What the engine remembers of one check series: its last state and the retry count.

    ``failures`` counts consecutive non-OK results (Nagios' "current attempt"): a problem is
    *soft* while ``failures`` is below a rule's ``retries`` and *hard* from then on.
    """

    check: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    state: CheckState = CheckState.OK
    failures: int = 0
    ts: float = 0.0
    output: str = ""


@dataclass
class DeviceTrack(Serde):
    """Last time a device was heard from, and whether it said it was going away."""

    labels: dict[str, str] = field(default_factory=dict)
    last_seen: float = 0.0
    online: bool = True


@dataclass
class SeriesBuffer(Serde):
    """Recent samples of one metric series, oldest first, trimmed to the longest window any
    rule needs (the last sample is always kept so absence can be judged)."""

    metric: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    points: list[tuple[float, float]] = field(default_factory=list)
