"""Service-level clocks: business-hour calendars and SLA targets, as plain Python.

Nothing here imports Django. Callers pass plain data (a ``Calendar``, a status history,
``now``) and get plain results, so the rules are fast to test with a controllable clock.
"""

from steward.sla.calendar import Calendar, add_business_time, business_seconds_between
from steward.sla.clock import ClockResult, TargetResult, evaluate

__all__ = [
    "Calendar",
    "ClockResult",
    "TargetResult",
    "add_business_time",
    "business_seconds_between",
    "evaluate",
]
