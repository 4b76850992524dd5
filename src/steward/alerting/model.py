"""Plain-data inputs of the core and the small enums shared by several modules.

Times are POSIX seconds (``float``) everywhere: cheap to compare on the hot path, exact in
JSON, and free of time-zone ambiguity. Only calendars (maintenance windows, on-call rotations)
turn them into local wall-clock time, with :mod:`zoneinfo`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Any, Self

from steward.alerting._serde import Serde
from steward.alerting.errors import StateError


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


@dataclass(frozen=True)
class Insight(Serde):
    """A stored judgement of the intelligence jobs about one subject of one device.

    The jobs (anomaly scoring, forecasts, disk health) already did the expensive work; the
    engine only decides whether a rule's condition holds on the latest judgement, so an
    alert on "disk full in 2 days" follows the same lifecycle, silences and routing as a
    threshold. ``kind`` is ``anomaly``, ``forecast`` or ``disk_health``; ``subject`` names
    what was judged within the device: a derived signal or metric name (``cpu``,
    ``node_load1``), a resource (``filesystem /var``, ``memory``) or a disk (``sda``).
    ``ts`` is the time of the data judged (a forecast's ``as_of``). The other fields are
    kind-specific: ``score`` (an anomaly's undamped score, a disk's risk), ``status`` (a
    forecast's status, a disk's level), ``seconds``/``lower``/``upper`` (a forecast's
    time to the crossing and its interval, counted from ``ts``) and ``text``, the sentence
    an alert shows (the detector's explanation, the forecast's headline, the disk's
    reasons).
    """

    kind: str
    subject: str
    labels: dict[str, str]
    ts: float
    score: float | None = None
    status: str = ""
    seconds: float | None = None
    lower: float | None = None
    upper: float | None = None
    text: str = ""

    def input_names(self) -> tuple[str, ...]:
        """The condition input names this insight feeds: exact, family wildcard, any."""
        names = [f"{self.kind}:{self.subject}"]
        family, sep, _ = self.subject.partition(" ")
        if sep:
            names.append(f"{self.kind}:{family} *")
        names.append(f"{self.kind}:*")
        return tuple(names)


Observation = Sample | CheckResult | Heartbeat | Insight


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

    # One per device and one per series make up most of a large state, written in every
    # round: hand-written (de)serialisers, several times faster than Serde's generic walk.
    def to_dict(self) -> dict[str, Any]:
        return {"labels": dict(self.labels), "last_seen": self.last_seen, "online": self.online}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        _expect_object(cls, data)
        return cls(
            labels=_str_dict(cls, data.get("labels", {})),
            last_seen=float(data.get("last_seen", 0.0)),
            online=bool(data.get("online", True)),
        )


@dataclass
class SeriesBuffer(Serde):
    """Recent samples of one metric series, oldest first, trimmed to the longest window any
    rule needs (the last sample is always kept so absence can be judged)."""

    metric: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    points: list[tuple[float, float]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:  # see DeviceTrack.to_dict
        return {
            "metric": self.metric,
            "labels": dict(self.labels),
            "points": [[ts, value] for ts, value in self.points],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        _expect_object(cls, data)
        try:
            points = [(float(ts), float(value)) for ts, value in data.get("points", [])]
        except (TypeError, ValueError) as exc:
            raise StateError(f"{cls.__name__}: bad points: {exc}") from exc
        return cls(
            metric=str(data.get("metric", "")),
            labels=_str_dict(cls, data.get("labels", {})),
            points=points,
        )


def _expect_object(cls: type, data: Any) -> None:
    if not isinstance(data, dict):
        raise StateError(f"{cls.__name__}: expected an object, got {type(data).__name__}")


def _str_dict(cls: type, data: Any) -> dict[str, str]:
    _expect_object(cls, data)
    return dict(data)
