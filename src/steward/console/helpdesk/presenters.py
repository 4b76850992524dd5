"""SLA clocks and durations as the console shows them: plain functions over plain data.

The clock itself (``steward.sla``) counts business seconds; people read deadlines in wall
time, so "time left" here is the wall-clock distance to the deadline the clock computed
(``due_at``), which is what a technician planning their day needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from steward.sla import ClockResult, TargetResult

TARGET_LABELS = {"first_response": "First response", "resolution": "Resolution"}

# SLA state -> (CSS status key, word). Keys are styled in helpdesk.css / steward.css.
STATES = {
    "ok": ("ok", "On track"),
    "warning": ("warning", "At risk"),
    "breached": ("breached", "Breached"),
    "met": ("met", "Met"),
    "paused": ("paused", "Paused"),
    "none": ("none", "No SLA"),
}


def duration(seconds: float) -> str:
    """A compact duration: 45 s -> "<1m", 4500 -> "1h 15m", 200000 -> "2d 7h"."""
    seconds = abs(int(seconds))
    if seconds < 60:
        return "<1m"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h" if hours else f"{days}d"


def ago(moment: datetime, now: datetime) -> str:
    """ "just now", "12m ago", "3h 5m ago", "2d 4h ago"."""
    seconds = (now - moment).total_seconds()
    return "just now" if seconds < 60 else f"{duration(seconds)} ago"


@dataclass(frozen=True)
class Badge:
    key: str  # CSS key: status-<key>
    word: str  # the state in words
    detail: str  # "2h 10m left", "35m over"; "" when nothing to add
    title: str  # tooltip: the exact deadline

    @property
    def label(self) -> str:
        return f"{self.word} · {self.detail}" if self.detail else self.word


@dataclass(frozen=True)
class TargetRow:
    name: str
    label: str
    badge: Badge
    target_seconds: float
    elapsed_seconds: float
    due_at: datetime | None
    stopped_at: datetime | None

    @property
    def target(self) -> str:
        return duration(self.target_seconds)

    @property
    def percent(self) -> int:
        """Share of the target used, 0-100 (for the bar)."""
        if not self.target_seconds:
            return 100
        return max(0, min(100, round(100 * self.elapsed_seconds / self.target_seconds)))


def target_badge(target: TargetResult, now: datetime) -> Badge:
    key, word = STATES.get(target.state, ("none", target.state))
    detail, title = "", ""
    if target.due_at is not None:
        title = f"Due {target.due_at:%Y-%m-%d %H:%M %Z}".strip()
        left = (target.due_at - now).total_seconds()
        if target.state == "breached":
            detail = f"{duration(left)} over" if left < 0 else ""
        else:
            detail = f"{duration(left)} left" if left > 0 else "due now"
    elif target.state == "paused":
        detail = f"{duration(max(0.0, target.remaining_seconds))} left"
        title = "The clock is paused while the ticket waits (pending / on hold)."
    return Badge(key, word, detail, title)


def ticket_badge(result: ClockResult | None, now: datetime) -> Badge:
    """One badge for a ticket: the most urgent target decides."""
    if result is None:
        return Badge("none", "No SLA", "", "")
    ranked = sorted(result.targets, key=lambda t: (_rank(t.state), t.due_at or now))
    return target_badge(ranked[0], now) if ranked else Badge("none", "No SLA", "", "")


# Most urgent first: a breach outranks a warning, which outranks the nearest running
# deadline; paused and met targets only speak when nothing runs.
URGENCY = ("breached", "warning", "ok", "paused", "met")


def _rank(state: str) -> int:
    return URGENCY.index(state) if state in URGENCY else len(URGENCY)


def target_rows(result: ClockResult | None, now: datetime) -> list[TargetRow]:
    if result is None:
        return []
    return [
        TargetRow(
            name=t.name,
            label=TARGET_LABELS.get(t.name, t.name),
            badge=target_badge(t, now),
            target_seconds=t.target_seconds,
            elapsed_seconds=t.elapsed_seconds,
            due_at=t.due_at,
            stopped_at=t.stopped_at,
        )
        for t in result.targets
    ]
