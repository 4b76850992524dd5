"""Heartbeat (dead man's switch) monitoring, Healthchecks-style, as pure functions.

A job pings when it runs: ``start`` when a run begins, ``success`` or ``fail`` (or an exit
status, 0 meaning success) when it ends. ``evaluate`` reduces a job's configuration and
its pings to a state at an explicit ``now``:

* ``new``      no ping yet; nothing is expected (the job may not be deployed yet).
* ``up``       the last run succeeded and the next ping is not due yet.
* ``late``     the next ping is past due but within the grace time; no alert yet.
* ``running``  a run started and is within its run-time limit.
* ``down``     alerting: no ping by due time + grace; the last run failed; a started run
               did not finish within its run-time limit (``max_runtime``, defaulting to
               the grace time as Healthchecks does; a separate limit is Healthchecks
               #910); or the last run finished faster than ``min_runtime`` (a job that
               "succeeds" in seconds instead of minutes usually did nothing; #236).

The next ping is due one ``period`` after the last completed run, or at the cron
``schedule``'s next firing after it (in ``tz``, DST-correct, see ``steward.checks.cron``).
The caller stores each state change as a transition and alerts from those (STYLE.md 10).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from steward.checks.cron import CronError, CronExpression


class HeartbeatConfigError(ValueError):
    """The job configuration is invalid; ``field`` names the offending setting."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class HeartbeatStatus(enum.Enum):
    NEW = "new"
    UP = "up"
    LATE = "late"
    RUNNING = "running"
    DOWN = "down"


class Reason(enum.Enum):
    """Why a job is down (or late)."""

    NONE = "none"
    MISSED = "missed"  # no ping by due time (+ grace for down)
    FAILED = "failed"  # the last run reported failure
    RUN_TOO_LONG = "run_too_long"  # started, not finished within max_runtime
    RUN_TOO_SHORT = "run_too_short"  # finished faster than min_runtime


class PingKind(enum.Enum):
    SUCCESS = "success"
    START = "start"
    FAIL = "fail"


@dataclass(frozen=True, slots=True)
class Ping:
    """One received ping. ``at`` is timezone-aware."""

    at: datetime
    kind: PingKind = PingKind.SUCCESS
    exit_status: int | None = None

    @classmethod
    def from_exit_status(cls, at: datetime, code: int) -> Ping:
        """A ``/<code>`` ping: 0 is success, anything else a failure."""
        return cls(at, PingKind.SUCCESS if code == 0 else PingKind.FAIL, code)


@dataclass(frozen=True, slots=True)
class HeartbeatConfig:
    """A job's expectations. Exactly one of ``period`` and ``schedule`` (cron, in ``tz``).
    ``grace``: how late a ping may be before the job is down. ``max_runtime``: how long a
    started run may take (default: ``grace``). ``min_runtime``: a run shorter than this
    counts as failed."""

    period: timedelta | None = None
    schedule: str | None = None
    tz: str = "UTC"
    grace: timedelta = timedelta(hours=1)
    max_runtime: timedelta | None = None
    min_runtime: timedelta | None = None

    def __post_init__(self) -> None:
        if (self.period is None) == (self.schedule is None):
            raise HeartbeatConfigError("period", "give either a period or a cron schedule")
        if self.period is not None and self.period < timedelta(minutes=1):
            raise HeartbeatConfigError("period", "must be at least one minute")
        if self.grace < timedelta(0):
            raise HeartbeatConfigError("grace", "must not be negative")
        for name in ("max_runtime", "min_runtime"):
            value = getattr(self, name)
            if value is not None and value <= timedelta(0):
                raise HeartbeatConfigError(name, "must be positive")
        if (
            self.max_runtime is not None
            and self.min_runtime is not None
            and self.min_runtime >= self.max_runtime
        ):
            raise HeartbeatConfigError("min_runtime", "must be below max_runtime")
        try:
            ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise HeartbeatConfigError("tz", f"unknown time zone {self.tz!r}") from None
        if self.schedule is not None:
            try:
                CronExpression.parse(self.schedule)
            except CronError as exc:
                raise HeartbeatConfigError("schedule", str(exc)) from None

    @property
    def run_limit(self) -> timedelta:
        return self.max_runtime if self.max_runtime is not None else self.grace

    def next_due(self, after: datetime) -> datetime:
        """When the ping following one at ``after`` is expected."""
        if self.period is not None:
            return after + self.period
        assert self.schedule is not None
        return CronExpression.parse(self.schedule).next_after(after, ZoneInfo(self.tz))


@dataclass(frozen=True, slots=True)
class HeartbeatState:
    """The verdict at ``now``. ``alert`` is true exactly when ``status`` is down.
    ``changes_at`` is when the state will change if no ping arrives (a scheduler's next
    evaluation time); ``None`` when it will not change by itself."""

    status: HeartbeatStatus
    reason: Reason
    message: str
    last_ping: datetime | None = None
    next_due: datetime | None = None
    changes_at: datetime | None = None
    running_since: datetime | None = None
    last_duration: timedelta | None = None

    @property
    def alert(self) -> bool:
        return self.status is HeartbeatStatus.DOWN


def evaluate(config: HeartbeatConfig, pings: Iterable[Ping], now: datetime) -> HeartbeatState:
    """The job's state at ``now`` given all pings received (pings after ``now`` ignored;
    pings with equal times keep their given order)."""
    history = sorted((p for p in pings if p.at <= now), key=lambda p: p.at)
    if not history:
        return HeartbeatState(HeartbeatStatus.NEW, Reason.NONE, "waiting for the first ping")
    last_end = _last_index(history, (PingKind.SUCCESS, PingKind.FAIL))
    last_start = _last_index(history, (PingKind.START,))
    running = last_start is not None and (last_end is None or last_start > last_end)
    started = history[last_start].at if running and last_start is not None else None

    verdict = _judge_completed(config, history, last_end, now) if last_end is not None else None
    if started is not None:
        limit_at = started + config.run_limit
        if now > limit_at:
            return HeartbeatState(
                HeartbeatStatus.DOWN,
                Reason.RUN_TOO_LONG,
                f"run started {_ago(now - started)} ago has not finished within "
                f"{_span(config.run_limit)}",
                last_ping=history[-1].at,
                running_since=started,
            )
        if verdict is None or verdict.reason not in (Reason.FAILED, Reason.RUN_TOO_SHORT):
            # A start ping is a sign of life: a run that begins late clears "missed".
            return HeartbeatState(
                HeartbeatStatus.RUNNING,
                Reason.NONE,
                f"running for {_ago(now - started)}",
                last_ping=history[-1].at,
                changes_at=limit_at,
                running_since=started,
                last_duration=verdict.last_duration if verdict else None,
            )
        # The previous run failed: a new run in progress does not clear the alert.
        return _replace_running(verdict, started, limit_at)
    assert verdict is not None
    return verdict


def _judge_completed(
    config: HeartbeatConfig, history: list[Ping], last_end: int, now: datetime
) -> HeartbeatState:
    end = history[last_end]
    duration = _duration(history, last_end)
    common = {"last_ping": end.at, "last_duration": duration}
    if end.kind is PingKind.FAIL:
        code = f" with exit status {end.exit_status}" if end.exit_status is not None else ""
        return HeartbeatState(
            HeartbeatStatus.DOWN, Reason.FAILED, f"last run failed{code}", **common
        )
    if config.min_runtime is not None and duration is not None and duration < config.min_runtime:
        return HeartbeatState(
            HeartbeatStatus.DOWN,
            Reason.RUN_TOO_SHORT,
            f"last run took {_span(duration)}, less than the minimum {_span(config.min_runtime)}",
            **common,
        )
    due = config.next_due(end.at)
    down_at = due + config.grace
    if now <= due:
        return HeartbeatState(
            HeartbeatStatus.UP,
            Reason.NONE,
            f"next ping due {due.isoformat()}",
            next_due=due,
            changes_at=due,
            **common,
        )
    if now <= down_at:
        return HeartbeatState(
            HeartbeatStatus.LATE,
            Reason.MISSED,
            f"ping due {due.isoformat()} is late; down after {down_at.isoformat()}",
            next_due=due,
            changes_at=down_at,
            **common,
        )
    return HeartbeatState(
        HeartbeatStatus.DOWN,
        Reason.MISSED,
        f"no ping since {end.at.isoformat()}; was due {due.isoformat()} "
        f"(+{_span(config.grace)} grace)",
        next_due=due,
        **common,
    )


def _replace_running(
    state: HeartbeatState, started: datetime, limit_at: datetime
) -> HeartbeatState:
    return HeartbeatState(
        state.status,
        state.reason,
        f"{state.message}; a new run is in progress",
        last_ping=state.last_ping,
        next_due=state.next_due,
        changes_at=limit_at,
        running_since=started,
        last_duration=state.last_duration,
    )


def _last_index(history: list[Ping], kinds: tuple[PingKind, ...]) -> int | None:
    for index in range(len(history) - 1, -1, -1):
        if history[index].kind in kinds:
            return index
    return None


def _duration(history: list[Ping], end_index: int) -> timedelta | None:
    """Time from the run's start ping to its end ping; ``None`` without a start ping
    (a start belongs to this run only if no other run ended in between)."""
    for index in range(end_index - 1, -1, -1):
        kind = history[index].kind
        if kind is PingKind.START:
            return history[end_index].at - history[index].at
        if kind in (PingKind.SUCCESS, PingKind.FAIL):
            return None
    return None


def _span(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds % 3600 == 0 and seconds >= 3600:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0 and seconds >= 60:
        return f"{seconds // 60} min"
    return f"{delta.total_seconds():g} s"


_ago = _span
