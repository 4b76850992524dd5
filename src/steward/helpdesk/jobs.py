"""The help desk's periodic jobs, for the worker's table (``steward.jobs.schedule``)."""

from __future__ import annotations

from steward.helpdesk.alerts import open_alert_tickets
from steward.helpdesk.services import auto_close_resolved
from steward.helpdesk.slaclock import check_sla

__all__ = ["auto_close_resolved", "check_sla", "open_alert_tickets"]
