"""Every periodic job in one table: name, interval, function.

Add a job here and every worker runs it; the database lease guarantees that one worker at
a time runs a given job, whatever the number of workers and replicas.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.sessions.models import Session
from django.utils import timezone

from steward.accounts import throttle
from steward.alerts import jobs as alerts_jobs
from steward.helpdesk import jobs as helpdesk_jobs
from steward.helpdesk.email import jobs as helpdesk_email_jobs
from steward.insights import jobs as insights_jobs
from steward.inventory import presence
from steward.metrics import jobs as metrics_jobs
from steward.notify.dispatch import deliver_due


@dataclass(frozen=True)
class Job:
    name: str
    every: timedelta
    run: Callable[[], object]


def _clear_expired_sessions() -> int:
    deleted, _ = Session.objects.filter(expire_date__lt=timezone.now()).delete()
    return deleted


JOBS: tuple[Job, ...] = (
    Job("record_offline_devices", timedelta(seconds=5), presence.record_offline_devices),
    Job("prune_login_failures", timedelta(minutes=10), throttle.prune),
    Job("clear_expired_sessions", timedelta(hours=1), _clear_expired_sessions),
    Job("deliver_notifications", timedelta(seconds=5), deliver_due),
    Job("alerts_tick", timedelta(seconds=1), alerts_jobs.tick),
    Job("alerts_run_checks", timedelta(seconds=1), alerts_jobs.run_due_checks),
    Job("alerts_heartbeats", timedelta(seconds=5), alerts_jobs.evaluate_heartbeats),
    Job("alerts_dispatch_outbox", timedelta(seconds=10), alerts_jobs.dispatch_outbox),
    Job("scrape_due_targets", timedelta(seconds=5), metrics_jobs.scrape_due_targets),
    Job("maintain_metrics_store", timedelta(seconds=60), metrics_jobs.maintain_store),
    Job("insights_score_series", timedelta(seconds=30), insights_jobs.score_series),
    Job("insights_forecasts", timedelta(minutes=10), insights_jobs.compute_forecasts),
    Job("insights_disk_health", timedelta(minutes=10), insights_jobs.assess_disks),
    Job("helpdesk_check_sla", timedelta(minutes=1), helpdesk_jobs.check_sla),
    Job("helpdesk_auto_close", timedelta(hours=1), helpdesk_jobs.auto_close_resolved),
    Job("helpdesk_open_alert_tickets", timedelta(minutes=1), helpdesk_jobs.open_alert_tickets),
    Job("helpdesk_poll_mailboxes", timedelta(seconds=30), helpdesk_email_jobs.poll_mailboxes),
    Job("helpdesk_send_email", timedelta(seconds=5), helpdesk_email_jobs.send_ticket_email),
)
