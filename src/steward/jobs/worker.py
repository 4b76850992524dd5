"""The worker loop: claim due jobs with a conditional update, run them, release them.

A claim is an ``UPDATE ... WHERE next_run_at <= now AND (lease free or expired)`` that must
change exactly one row: on SQLite and PostgreSQL alike only one worker wins, with no broker
and no ``SELECT FOR UPDATE``. A worker that dies holding a lease loses it when the lease
expires.
"""

from __future__ import annotations

import logging
import threading
import traceback
from datetime import timedelta

from django.db import close_old_connections, models
from django.utils import timezone

from steward.audit import context
from steward.jobs.identity import worker_id
from steward.jobs.models import JobState
from steward.jobs.schedule import JOBS, Job

log = logging.getLogger("steward.worker")
LEASE = timedelta(minutes=5)


def ensure_rows(jobs: tuple[Job, ...] = JOBS) -> None:
    now = timezone.now()
    for job in jobs:
        JobState.objects.get_or_create(name=job.name, defaults={"next_run_at": now})


def claim(job: Job, me: str) -> bool:
    now = timezone.now()
    won = (
        JobState.objects.filter(name=job.name, next_run_at__lte=now)
        .filter(models.Q(lease_until__isnull=True) | models.Q(lease_until__lt=now))
        .update(lease_until=now + LEASE, leased_by=me, last_started_at=now)
    )
    return won == 1


def run_due(jobs: tuple[Job, ...] = JOBS, me: str | None = None) -> list[str]:
    """Run every due job this worker can claim; return the names it ran."""
    me = me or worker_id()
    ran = []
    for job in jobs:
        if not claim(job, me):
            continue
        error = ""
        try:
            with context.acting_as(label="worker", source="worker"):
                result = job.run()
            log.debug("job %s done: %s", job.name, result)
        except Exception:
            error = traceback.format_exc(limit=5)
            log.exception("job %s failed", job.name)
        finished = timezone.now()
        JobState.objects.filter(name=job.name, leased_by=me).update(
            lease_until=None,
            leased_by="",
            last_finished_at=finished,
            next_run_at=finished + job.every,
            last_error=error,
            runs=models.F("runs") + 1,
        )
        ran.append(job.name)
    return ran


def loop(stop: threading.Event, interval: float) -> None:
    ensure_rows()
    log.info("worker %s started: %d jobs", worker_id(), len(JOBS))
    while not stop.is_set():
        try:
            run_due()
        except Exception:
            log.exception("worker round failed")
        finally:
            close_old_connections()
        stop.wait(interval)
    log.info("worker stopped")
