"""The SLA clock: first-response and resolution targets measured in business time.

Deadlines are always derived from the *whole* status history, never stored and shifted:
elapsed = business time spent in running statuses (paused and stopped spans excluded),
remaining = target - elapsed, deadline = now + remaining in business time. So a priority
or calendar change mid-flight keeps every pause that already happened, which is where tools
that move a stored deadline by "pause duration" go wrong (GLPI recomputes from the
creation date and forgets the waiting time).

States: ``ok``, ``warning`` (elapsed >= ``warn_ratio`` x target), ``breached`` (elapsed
exceeded the target, whether or not the ticket has since been answered or solved),
``met`` (stopped within the target), ``paused`` (in a pausing status, not breached).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from steward.sla.calendar import Calendar, add_business_time, business_seconds_between

RUNNING, PAUSED, STOPPED = "running", "paused", "stopped"
OK, WARNING, BREACHED, MET = "ok", "warning", "breached", "met"
STATE_PAUSED, STATE_NONE = "paused", "none"
DEFAULT_STOPPED = frozenset({"resolved", "closed"})


@dataclass(frozen=True)
class Segment:
    start: datetime
    end: datetime
    kind: str  # RUNNING, PAUSED or STOPPED


@dataclass(frozen=True)
class TargetResult:
    name: str  # "first_response" or "resolution"
    target_seconds: float
    elapsed_seconds: float  # business seconds counted up to now (or to the stop)
    due_at: datetime | None  # breach instant; None while paused or once met
    stopped_at: datetime | None  # when the target stopped counting (answered, solved)
    state: str

    @property
    def remaining_seconds(self) -> float:
        return self.target_seconds - self.elapsed_seconds

    @property
    def ratio(self) -> float:
        return self.elapsed_seconds / self.target_seconds if self.target_seconds else 1.0


@dataclass(frozen=True)
class ClockResult:
    first_response: TargetResult | None
    resolution: TargetResult | None
    state: str
    next_due_at: datetime | None  # the nearest deadline still running

    @property
    def targets(self) -> list[TargetResult]:
        return [t for t in (self.first_response, self.resolution) if t is not None]


def segments(
    created_at: datetime,
    history: Iterable[tuple[datetime, str]],
    now: datetime,
    paused: frozenset[str],
    stopped: frozenset[str] = DEFAULT_STOPPED,
) -> list[Segment]:
    """Cut ``[created_at, now)`` into spans by status; ``history`` is (at, new status)."""
    events = sorted((max(at, created_at), status) for at, status in history if at <= now)
    if not events or events[0][0] > created_at:
        events.insert(0, (created_at, "new"))
    out: list[Segment] = []
    for index, (at, status) in enumerate(events):
        end = events[index + 1][0] if index + 1 < len(events) else now
        kind = STOPPED if status in stopped else PAUSED if status in paused else RUNNING
        if end > at or index + 1 == len(events):
            out.append(Segment(at, max(end, at), kind))
    return out


def measure(
    calendar: Calendar,
    name: str,
    target_seconds: float,
    spans: Sequence[Segment],
    now: datetime,
    stop_at: datetime | None = None,
    warn_ratio: float = 0.8,
    first_stop_ends: bool = False,
) -> TargetResult:
    """Evaluate one target over the spans.

    ``stop_at`` ends it early (the first response). A stopped span (resolved, closed) ends
    the target if it is the current one, or, with ``first_stop_ends``, wherever it comes:
    a ticket solved without a reply has been responded to, even if it is reopened later.
    """
    elapsed = 0.0
    breached_at: datetime | None = None
    stopped_at: datetime | None = None
    for index, span in enumerate(spans):
        start, end = span.start, span.end
        if stop_at is not None and stop_at < end:
            end = max(stop_at, start)
        if span.kind == STOPPED and (first_stop_ends or index == len(spans) - 1):
            stopped_at = start
            break
        if span.kind == RUNNING and end > start:
            counted = business_seconds_between(calendar, start, end)
            if breached_at is None and elapsed + counted > target_seconds:
                breached_at = add_business_time(calendar, start, target_seconds - elapsed)
            elapsed += counted
        if stop_at is not None and stop_at <= span.end:
            stopped_at = stop_at
            break
    if stopped_at is not None:
        state = BREACHED if breached_at is not None else MET
        return TargetResult(name, target_seconds, elapsed, breached_at, stopped_at, state)
    if breached_at is not None:
        return TargetResult(name, target_seconds, elapsed, breached_at, None, BREACHED)
    if spans and spans[-1].kind == PAUSED:
        return TargetResult(name, target_seconds, elapsed, None, None, STATE_PAUSED)
    due = add_business_time(calendar, now, target_seconds - elapsed)
    state = WARNING if elapsed >= warn_ratio * target_seconds else OK
    return TargetResult(name, target_seconds, elapsed, due, None, state)


def evaluate(
    calendar: Calendar,
    *,
    created_at: datetime,
    history: Iterable[tuple[datetime, str]],
    now: datetime,
    first_response_seconds: float | None,
    resolution_seconds: float | None,
    first_response_at: datetime | None = None,
    paused_statuses: Iterable[str] = ("pending",),
    stopped_statuses: Iterable[str] = DEFAULT_STOPPED,
    warn_ratio: float = 0.8,
) -> ClockResult:
    """The SLA clock of one ticket at ``now`` (all datetimes time-zone-aware)."""
    spans = segments(
        created_at, history, now, frozenset(paused_statuses), frozenset(stopped_statuses)
    )
    first = resolution = None
    if first_response_seconds:
        answered = first_response_at if first_response_at and first_response_at <= now else None
        first = measure(
            calendar,
            "first_response",
            first_response_seconds,
            spans,
            now,
            answered,
            warn_ratio,
            first_stop_ends=True,
        )
    if resolution_seconds:
        resolution = measure(
            calendar, "resolution", resolution_seconds, spans, now, None, warn_ratio
        )
    results = [t for t in (first, resolution) if t is not None]
    states = {t.state for t in results}
    if not results:
        state = STATE_NONE
    elif BREACHED in states:
        state = BREACHED
    elif STATE_PAUSED in states:
        state = STATE_PAUSED
    elif WARNING in states:
        state = WARNING
    elif states == {MET}:
        state = MET
    else:
        state = OK
    running = [t.due_at for t in results if t.state in (OK, WARNING) and t.due_at is not None]
    return ClockResult(first, resolution, state, min(running) if running else None)
