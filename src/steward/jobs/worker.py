"""The worker loop: claim due jobs with a conditional update, run them, release them.

A claim is an ``UPDATE ... WHERE next_run_at <= now AND (lease free or expired)`` that must
change exactly one row: on SQLite and PostgreSQL alike only one worker wins, with no broker
and no ``SELECT FOR UPDATE``.

Leases are short and renewed: the loop extends the leases of the jobs it is running every
few seconds, so a live worker keeps a job however long it runs (a compaction may take
minutes; a fixed five-minute lease let a second worker start the same job beside it), and a
worker that dies mid-job loses its jobs within ``LEASE`` on any host, at once on its own
host (``release_dead_leases``, run every few seconds by the other workers there).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import traceback
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for_futures
from datetime import datetime, timedelta

from django.db import close_old_connections, models
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from steward.audit import context
from steward.jobs.identity import worker_id
from steward.jobs.models import JobState
from steward.jobs.schedule import JOBS, Job

log = logging.getLogger("steward.worker")
# A claim by the loop lasts LEASE unless renewed; the loop renews every RENEW_EVERY, far
# inside it, so a slow round or a database hiccup does not cost a live worker its jobs.
LEASE = timedelta(seconds=30)
RENEW_EVERY = 5.0
# run_due() runs jobs in the caller's thread and nothing renews them meanwhile: its claims
# keep the long lease of old (a job outliving it may run twice at once).
ONE_SHOT_LEASE = timedelta(minutes=5)
# How often the loop frees the leases of dead workers of its own host (one small query).
DEAD_CHECK_EVERY = 5.0


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


def claim(job: Job, me: str, lease: timedelta = ONE_SHOT_LEASE) -> bool:
    now = timezone.now()
    won = (
        JobState.objects.filter(name=job.name, next_run_at__lte=now)
        .filter(models.Q(lease_until__isnull=True) | models.Q(lease_until__lt=now))
        .update(lease_until=now + lease, leased_by=me, last_started_at=now)
    )
    return won == 1


def renew(names: list[str], me: str) -> int:
    """Extend the leases ``me`` holds on ``names`` to ``LEASE`` from now; returns how many
    it still held (a lease lost to expiry is not taken back)."""
    if not names:
        return 0
    return JobState.objects.filter(name__in=names, leased_by=me).update(
        lease_until=timezone.now() + LEASE
    )


def _run_claimed(job: Job, me: str, started) -> None:
    """Run one claimed job and release it; the next run is due one period after this
    one *started* (so a 1 s job runs every second, not every second plus its duration)."""
    error, result = "", None
    try:
        with context.acting_as(label="worker", source="worker"):
            result = job.run()
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
    # One record per run, with who ran it and when it started: with several workers the
    # debug log (JSON lines) shows that each due time ran once and on which worker.
    log.debug(
        "job %s ran: %s",
        job.name,
        "failed" if error else result,
        extra={"job": job.name, "worker": me, "started": started.isoformat()},
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
    """Until the next job can be claimed: its due time, or for a job someone is running,
    the end of that lease. (Counting a running job's past due time woke every worker 20
    times a second for as long as any job ran anywhere.)"""
    earliest: datetime | None = JobState.objects.filter(name__in=[j.name for j in jobs]).aggregate(
        earliest=models.Min(
            Greatest("next_run_at", Coalesce("lease_until", "next_run_at")),
            output_field=models.DateTimeField(),
        )
    )["earliest"]
    if earliest is None:
        return ceiling
    return min(ceiling, max(0.05, (earliest - timezone.now()).total_seconds()))


def loop(
    stop: threading.Event, interval: float, threads: int = 4, jobs: tuple[Job, ...] = JOBS
) -> None:
    """Claim due jobs and run each in a small thread pool, so a long job (compaction,
    scoring) never holds up a one-second one (the alert engine's tick)."""
    ensure_rows(jobs)
    me = worker_id()
    log.info("worker %s started: %d jobs", me, len(jobs))
    running: dict[str, Future] = {}

    def run_in_thread(job: Job, started) -> None:
        try:
            _run_claimed(job, me, started)
        finally:
            close_old_connections()

    renewed = checked = time.monotonic()
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="job") as pool:
        while not stop.is_set():
            try:
                for name in [n for n, f in running.items() if f.done()]:
                    running.pop(name)
                if time.monotonic() - renewed >= RENEW_EVERY:
                    renew(list(running), me)
                    renewed = time.monotonic()
                if time.monotonic() - checked >= DEAD_CHECK_EVERY:
                    release_dead_leases()
                    checked = time.monotonic()
                for job in _due(jobs):
                    if job.name in running or len(running) >= threads:
                        continue
                    started = timezone.now()
                    if claim(job, me, LEASE):
                        running[job.name] = pool.submit(run_in_thread, job, started)
                wait = _seconds_until_next(jobs, interval)
            except Exception:
                log.exception("worker round failed")
                wait = interval
            finally:
                close_old_connections()
            stop.wait(wait)
        _finish(running, me)
    log.info("worker stopped")


def _finish(running: dict[str, Future], me: str) -> None:
    """On shutdown, keep renewing the leases of the jobs still running until they end."""
    pending = {name: f for name, f in running.items() if not f.done()}
    while pending:
        try:
            renew(list(pending), me)
        except Exception:
            log.exception("renewing leases at shutdown failed")
        finally:
            close_old_connections()
        wait_for_futures(pending.values(), timeout=RENEW_EVERY)
        pending = {name: f for name, f in pending.items() if not f.done()}
