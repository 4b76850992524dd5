"""Conditions: pure judgements "is this input in a problem state now?".

A condition sees plain data (the recent ``(ts, value)`` points of one series, the tracked state
of one check, or the last heartbeat of one device) and ``now``, and returns a :class:`Verdict`.
It never reads a database, a clock or a global, so the engine can call it on the arrival of
every sample (the hot path) and tests can drive it with literal numbers.

Three outcomes, not two: ``active=None`` means *no data to judge*. The lifecycle then keeps the
alert as it is instead of resolving it, because "the agent stopped sending" is not "the problem
went away" (Prometheus resolves an alert whose series went stale; we leave that to an explicit
absence rule).

``Verdict.recheck_at`` is the earliest time the answer could change *without new input* (a
sample leaving the window, a heartbeat getting too old). The engine keeps these deadlines so a
timer tick only re-evaluates what can have changed, instead of every rule x every series.

Three kinds judge an :class:`~steward.alerting.model.Insight` (the stored result of the
intelligence jobs) instead of raw data: ``anomaly``, ``forecast`` and ``disk_health``. The
jobs did the expensive work; these conditions only compare a score, a time or a level.

Adding a kind: subclass :class:`Condition`, set
``kind`` and ``source``, implement :meth:`~Condition.evaluate`, and decorate the class with
:func:`register_condition`. Its state, if any, must live in the input (e.g. detector state kept
by the app), not in the condition, which is configuration.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, Self, TypeVar

from steward.alerting._serde import Serde
from steward.alerting.errors import InvalidCondition
from steward.alerting.labels import Matcher, matches_all
from steward.alerting.model import CheckState, CheckTrack, DeviceTrack, Insight


class Source(StrEnum):
    """Which input stream feeds a condition."""

    METRIC = "metric"
    CHECK = "check"
    DEVICE = "device"
    INSIGHT = "insight"


class Op(StrEnum):
    GT = ">"
    GE = ">="
    LT = "<"
    LE = "<="
    EQ = "=="
    NE = "!="


_COMPARE: dict[Op, Callable[[float, float], bool]] = {
    Op.GT: lambda a, b: a > b,
    Op.GE: lambda a, b: a >= b,
    Op.LT: lambda a, b: a < b,
    Op.LE: lambda a, b: a <= b,
    Op.EQ: lambda a, b: a == b,
    Op.NE: lambda a, b: a != b,
}


class Reducer(StrEnum):
    LAST = "last"
    AVG = "avg"
    MIN = "min"
    MAX = "max"
    PERCENTILE = "percentile"
    COUNT = "count"


@dataclass(frozen=True)
class ConditionInput:
    """Everything a condition may look at; the engine fills the part its ``source`` needs."""

    points: Sequence[tuple[float, float]] = ()
    check: CheckTrack | None = None
    device: DeviceTrack | None = None
    insight: Insight | None = None


@dataclass(frozen=True)
class Verdict:
    active: bool | None
    value: float | str | None = None
    recheck_at: float | None = None


_REGISTRY: dict[str, type[Condition]] = {}
_C = TypeVar("_C", bound="type[Condition]")


def register_condition(cls: _C) -> _C:
    """Class decorator making a condition kind loadable by :meth:`Condition.from_dict`."""
    if not cls.kind:
        raise InvalidCondition(f"{cls.__name__} has no kind")
    _REGISTRY[cls.kind] = cls
    return cls


class Condition(Serde):
    """Base of every condition kind (configuration only, immutable, serialisable)."""

    kind: ClassVar[str] = ""
    source: ClassVar[Source]

    def input_name(self) -> str:
        """The metric or check name this condition reads ("*" = any; devices: "")."""
        return ""

    def history_s(self) -> float:
        """How many seconds of samples the engine must keep for this condition."""
        return 0.0

    def evaluate(self, data: ConditionInput, now: float, active: bool) -> Verdict:
        """Judge ``data`` at ``now``; ``active`` is the previous verdict (for hysteresis)."""
        raise NotImplementedError

    def template_context(self) -> dict[str, Any]:
        """Names offered to title/description templates (e.g. ``threshold``)."""
        return {}

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **super().to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        if cls is Condition:
            kind = data.get("kind")
            target = _REGISTRY.get(str(kind))
            if target is None:
                raise InvalidCondition(f"unknown condition kind {kind!r}")
            return target.from_dict(data)  # type: ignore[return-value]
        return super().from_dict({k: v for k, v in data.items() if k != "kind"})


def percentile(values: Sequence[float], p: float) -> float:
    """Linear-interpolated percentile (numpy's default method), ``p`` in [0, 100]."""
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@register_condition
@dataclass(frozen=True)
class Threshold(Condition):
    """``reducer(metric over the last window_s) op threshold``.

    ``window_s=0`` with ``last`` judges the latest sample whatever its age (staleness is the
    job of :class:`Absence`). ``recover`` adds hysteresis (Zabbix' recovery expression): once
    active, the condition stays active until the value crosses ``recover`` instead of
    ``threshold``, so a CPU hovering at 90 % against a 90 % threshold does not page-resolve-page.
    """

    kind: ClassVar[str] = "threshold"
    source: ClassVar[Source] = Source.METRIC

    metric: str
    op: Op
    threshold: float
    reducer: Reducer = Reducer.LAST
    window_s: float = 0.0
    percentile: float = 95.0
    recover: float | None = None

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "op", Op(self.op))
            object.__setattr__(self, "reducer", Reducer(self.reducer))
        except ValueError as exc:
            raise InvalidCondition(str(exc)) from None
        if self.window_s < 0 or not 0 <= self.percentile <= 100:
            raise InvalidCondition("window_s must be >= 0 and percentile within [0, 100]")
        if self.window_s == 0 and self.reducer not in (Reducer.LAST,):
            raise InvalidCondition(f"reducer {self.reducer} needs a window_s > 0")

    def input_name(self) -> str:
        return self.metric

    def history_s(self) -> float:
        return self.window_s

    def template_context(self) -> dict[str, Any]:
        return {"threshold": self.threshold, "op": self.op.value, "metric": self.metric}

    def reduce(self, points: Sequence[tuple[float, float]], now: float) -> float | None:
        """The reduced value over the window, or None when there is nothing to reduce."""
        if self.window_s == 0:
            return points[-1][1] if points else None
        start = now - self.window_s
        values = [v for ts, v in points if start < ts <= now]
        if self.reducer is Reducer.COUNT:
            return float(len(values))
        if not values:
            return None
        if self.reducer is Reducer.LAST:
            return values[-1]
        if self.reducer is Reducer.AVG:
            return math.fsum(values) / len(values)
        if self.reducer is Reducer.MIN:
            return min(values)
        if self.reducer is Reducer.MAX:
            return max(values)
        return percentile(values, self.percentile)

    def evaluate(self, data: ConditionInput, now: float, active: bool) -> Verdict:
        value = self.reduce(data.points, now)
        recheck = None
        if self.window_s > 0:
            start = now - self.window_s
            inside = [ts for ts, _ in data.points if start < ts <= now]
            recheck = inside[0] + self.window_s if inside else None
        if value is None:
            return Verdict(None, None, recheck)
        bound = self.recover if active and self.recover is not None else self.threshold
        return Verdict(_COMPARE[self.op](value, bound), value, recheck)


@register_condition
@dataclass(frozen=True)
class Absence(Condition):
    """No sample of ``metric`` for ``seconds`` (a known series went silent)."""

    kind: ClassVar[str] = "absence"
    source: ClassVar[Source] = Source.METRIC

    metric: str
    seconds: float

    def __post_init__(self) -> None:
        if self.seconds <= 0:
            raise InvalidCondition("absence needs seconds > 0")

    def input_name(self) -> str:
        return self.metric

    def template_context(self) -> dict[str, Any]:
        return {"threshold": self.seconds, "metric": self.metric}

    def evaluate(self, data: ConditionInput, now: float, active: bool) -> Verdict:
        if not data.points:
            return Verdict(None)
        last = data.points[-1][0]
        age = now - last
        if age >= self.seconds:
            return Verdict(True, age)
        return Verdict(False, age, last + self.seconds)


@register_condition
@dataclass(frozen=True)
class CheckFailing(Condition):
    """A check is in ``min_state`` or worse, *hard* after ``retries`` consecutive failures.

    ``retries=1`` alerts on the first failing result; ``3`` behaves like Nagios'
    ``max_check_attempts=3`` (two soft failures are tolerated). ``check="*"`` matches any
    check. ``UNKNOWN`` counts as failing when ``include_unknown`` is set.
    """

    kind: ClassVar[str] = "check"
    source: ClassVar[Source] = Source.CHECK

    check: str = "*"
    min_state: CheckState = CheckState.WARNING
    retries: int = 1
    include_unknown: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "min_state", CheckState(self.min_state))
        if self.retries < 1:
            raise InvalidCondition("retries must be >= 1")

    def input_name(self) -> str:
        return self.check

    def template_context(self) -> dict[str, Any]:
        return {"threshold": self.min_state.name.lower(), "check": self.check}

    def failing(self, state: CheckState) -> bool:
        if state is CheckState.UNKNOWN:
            return self.include_unknown
        return state >= self.min_state and state is not CheckState.OK

    def evaluate(self, data: ConditionInput, now: float, active: bool) -> Verdict:
        track = data.check
        if track is None:
            return Verdict(None)
        hard = self.failing(track.state) and track.failures >= self.retries
        return Verdict(hard, track.state.name.lower())


@register_condition
@dataclass(frozen=True)
class DeviceOffline(Condition):
    """No heartbeat for ``after_s`` seconds, or the device said it was going away."""

    kind: ClassVar[str] = "device_offline"
    source: ClassVar[Source] = Source.DEVICE

    after_s: float = 90.0

    def __post_init__(self) -> None:
        if self.after_s <= 0:
            raise InvalidCondition("after_s must be > 0")

    def template_context(self) -> dict[str, Any]:
        return {"threshold": self.after_s}

    def evaluate(self, data: ConditionInput, now: float, active: bool) -> Verdict:
        track = data.device
        if track is None:
            return Verdict(None)
        age = now - track.last_seen
        if not track.online or age >= self.after_s:
            return Verdict(True, age)
        return Verdict(False, age, track.last_seen + self.after_s)


@register_condition
@dataclass(frozen=True)
class Anomaly(Condition):
    """The anomaly detector's undamped score of a series is at or above ``level``.

    ``signal`` names a derived signal of each device (``cpu``, ``memory``); ``metric`` a
    stored metric (every series of it, narrowed by ``matchers`` on the series' labels).
    The duration ("for 10 minutes") is the rule's ``for_s``. A judgement older than
    ``stale_s`` is *no data* (the scoring job is behind), not a recovery.
    """

    kind: ClassVar[str] = "anomaly"
    source: ClassVar[Source] = Source.INSIGHT

    signal: str = ""
    metric: str = ""
    matchers: tuple[str, ...] = ()  # 'mode="user"', 'device=~"sd.*"'
    level: float = 0.5
    stale_s: float = 300.0
    _parsed: tuple[Matcher, ...] = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "matchers", tuple(self.matchers))
        object.__setattr__(self, "_parsed", tuple(Matcher.parse(m) for m in self.matchers))
        if bool(self.signal) == bool(self.metric):
            raise InvalidCondition("an anomaly condition needs either a signal or a metric")
        if self.signal and self.matchers:
            raise InvalidCondition("matchers apply to a metric, not to a signal")
        if not 0 < self.level <= 1:
            raise InvalidCondition("level must be within (0, 1]")
        if self.stale_s <= 0:
            raise InvalidCondition("stale_s must be > 0")

    def input_name(self) -> str:
        return f"anomaly:{self.signal or self.metric}"

    def template_context(self) -> dict[str, Any]:
        return {"threshold": self.level, "metric": self.signal or self.metric}

    def evaluate(self, data: ConditionInput, now: float, active: bool) -> Verdict:
        found = data.insight
        if found is None or found.score is None:
            return Verdict(None)
        if self._parsed and not matches_all(self._parsed, found.labels):
            return Verdict(None)  # not a series this rule watches
        if now - found.ts > self.stale_s:
            return Verdict(None, found.text)
        return Verdict(found.score >= self.level, found.text or found.score)


class Bound(StrEnum):
    ESTIMATE = "estimate"  # the fitted crossing time
    EARLY = "early"  # the early edge of the interval: warn sooner
    LATE = "late"  # the late edge: only when even the slow case runs out in time


@register_condition
@dataclass(frozen=True)
class Forecast(Condition):
    """A resource is forecast to run out within ``within_s`` seconds.

    ``resource`` is ``filesystem /var``, ``filesystem *`` (every filesystem, one alert
    each) or ``memory``. "Full within 7 days with 80 % confidence" is ``bound="late"``:
    the late edge of the forecast's interval is within 7 days. Time passed since the data
    was judged counts (a forecast made an hour ago of "3 days" means 2 days 23 h now), so
    the verdict can turn active without a new forecast: ``recheck_at`` says when.
    """

    kind: ClassVar[str] = "forecast"
    source: ClassVar[Source] = Source.INSIGHT

    resource: str
    within_s: float
    bound: Bound = Bound.ESTIMATE
    confidence: float = 0.8

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "bound", Bound(self.bound))
        except ValueError:
            raise InvalidCondition("bound must be one of: estimate, early, late") from None
        if not self.resource.strip():
            raise InvalidCondition("a forecast condition needs a resource")
        if self.within_s <= 0:
            raise InvalidCondition("within_s must be > 0")
        if not 0 < self.confidence < 1:
            raise InvalidCondition("confidence must be within (0, 1)")

    def input_name(self) -> str:
        return f"forecast:{self.resource}"

    def template_context(self) -> dict[str, Any]:
        return {"threshold": self.within_s, "resource": self.resource}

    def evaluate(self, data: ConditionInput, now: float, active: bool) -> Verdict:
        found = data.insight
        if found is None:
            return Verdict(None)
        if found.status == "already_crossed":
            return Verdict(True, found.text)
        if found.status != "crossing":
            return Verdict(False, found.text)
        seconds = {
            Bound.ESTIMATE: found.seconds,
            Bound.EARLY: found.lower,
            Bound.LATE: found.upper,
        }[self.bound]
        if seconds is None:  # an unbounded late edge: never surely within
            return Verdict(False, found.text)
        crossing_at = found.ts + seconds
        if crossing_at - now <= self.within_s:
            return Verdict(True, found.text)
        return Verdict(False, found.text, crossing_at - self.within_s)


DISK_LEVELS = ("unknown", "ok", "watch", "warning", "critical")


@register_condition
@dataclass(frozen=True)
class DiskHealth(Condition):
    """A disk's SMART-based health level is ``min_level`` or worse (watch < warning <
    critical); ``unknown`` (no SMART data) never alerts."""

    kind: ClassVar[str] = "disk_health"
    source: ClassVar[Source] = Source.INSIGHT

    disk: str = "*"
    min_level: str = "warning"

    def __post_init__(self) -> None:
        if self.min_level not in DISK_LEVELS[2:]:
            raise InvalidCondition("min_level must be one of: watch, warning, critical")

    def input_name(self) -> str:
        return f"disk_health:{self.disk}"

    def template_context(self) -> dict[str, Any]:
        return {"threshold": self.min_level}

    def evaluate(self, data: ConditionInput, now: float, active: bool) -> Verdict:
        found = data.insight
        if found is None or found.status not in DISK_LEVELS[1:]:
            return Verdict(None)
        bad = DISK_LEVELS.index(found.status) >= DISK_LEVELS.index(self.min_level)
        return Verdict(bad, found.text)
