"""The worker loop: claim due jobs with a conditional update, run them, release them.

A claim is an ``UPDATE ... WHERE next_run_at <= now AND (lease free or expired)`` that must
change exactly one row: on SQLite and PostgreSQL alike only one worker wins, with no broker
and no ``SELECT FOR UPDATE``. A worker that dies holding a lease loses it when the lease
expires.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import traceback
from concurrent.futures import Future, ThreadPoolExecutor
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
    release_dead_leases()


def release_dead_leases() -> int:
    """Free leases held by workers of this host that no longer run (killed mid-job), so
    a restarted worker does not wait out the lease on a one-second job."""
    host = socket.gethostname()
    released = 0
    for state in JobState.objects.filter(leased_by__startswith=f"{host}:"):
        pid_text = state.leased_by.rsplit(":", 1)[-1]
        if pid_text.isdigit() and not _alive(int(pid_text)):
            released += JobState.objects.filter(pk=state.pk, leased_by=state.leased_by).update(
                lease_until=None, leased_by=""
            )
    return released


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def claim(job: Job, me: str) -> bool:
    now = timezone.now()
    won = (
        JobState.objects.filter(name=job.name, next_run_at__lte=now)
        .filter(models.Q(lease_until__isnull=True) | models.Q(lease_until__lt=now))
        .update(lease_until=now + LEASE, leased_by=me, last_started_at=now)
    )
    return won == 1


def _run_claimed(job: Job, me: str, started) -> None:
    """Run one claimed job and release it; the next run is due one period after this
    one *started* (so a 1 s job runs every second, not every second plus its duration)."""
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
        next_run_at=max(started + job.every, finished),
        last_error=error,
        runs=models.F("runs") + 1,
    )


def _due(jobs: tuple[Job, ...]) -> list[Job]:
    """Jobs due now, from one read: claiming only those keeps idle rounds write-free."""
    now = timezone.now()
    due_names = set(
        JobState.objects.filter(name__in=[j.name for j in jobs], next_run_at__lte=now)
        .filter(models.Q(lease_until__isnull=True) | models.Q(lease_until__lt=now))
        .values_list("name", flat=True)
    )
    return [job for job in jobs if job.name in due_names]


def run_due(jobs: tuple[Job, ...] = JOBS, me: str | None = None) -> list[str]:
    """Run every due job this worker can claim, one after the other; return their names."""
    me = me or worker_id()
    ran = []
    for job in _due(jobs):
        started = timezone.now()
        if claim(job, me):
            _run_claimed(job, me, started)
            ran.append(job.name)
    return ran


def _seconds_until_next(jobs: tuple[Job, ...], ceiling: float) -> float:
    earliest = JobState.objects.filter(name__in=[j.name for j in jobs]).aggregate(
        earliest=models.Min("next_run_at")
    )["earliest"]
    if earliest is None:
        return ceiling
    return min(ceiling, max(0.05, (earliest - timezone.now()).total_seconds()))


def loop(stop: threading.Event, interval: float, threads: int = 4) -> None:
    """Claim due jobs and run each in a small thread pool, so a long job (compaction,
    scoring) never holds up a one-second one (the alert engine's tick)."""
    ensure_rows()
    me = worker_id()
    log.info("worker %s started: %d jobs", me, len(JOBS))
    running: dict[str, Future] = {}

    def run_in_thread(job: Job, started) -> None:
        try:
            _run_claimed(job, me, started)
        finally:
            close_old_connections()

    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="job") as pool:
        while not stop.is_set():
            try:
                for name in [n for n, f in running.items() if f.done()]:
                    running.pop(name)
                for job in _due(JOBS):
                    if job.name in running or len(running) >= threads:
                        continue
                    started = timezone.now()
                    if claim(job, me):
                        running[job.name] = pool.submit(run_in_thread, job, started)
                wait = _seconds_until_next(JOBS, interval)
            except Exception:
                log.exception("worker round failed")
                wait = interval
            finally:
                close_old_connections()
            stop.wait(wait)
    log.info("worker stopped")
