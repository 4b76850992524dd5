"""Server-side (agentless) checks: the worker job that runs due ones.

``run_due_checks`` claims each due check with a conditional update of ``next_run_at``
(exactly one worker wins, STYLE rule 10) and submits it to a bounded, process-wide pool;
it returns at once, so a slow target (a 10 s timeout) never delays the 1-second engine
tick sharing the worker loop. Each pool thread runs ``steward.checks.run`` (which never
raises) and records the result (``results.record``: state, series, engine on arrival).
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from django.db import connection, models
from django.utils import timezone

from steward.alerts import results
from steward.alerts.models import CheckDefinition
from steward.checks import Side, run

log = logging.getLogger("steward.alerts")
POOL_SIZE = 16
_pool = ThreadPoolExecutor(max_workers=POOL_SIZE, thread_name_prefix="steward-check")
_running: set[int] = set()
_running_lock = threading.Lock()


def due_checks(now=None):
    now = now or timezone.now()
    return CheckDefinition.objects.filter(device__isnull=True, enabled=True).filter(
        models.Q(next_run_at__isnull=True) | models.Q(next_run_at__lte=now)
    )


def claim(check: CheckDefinition, now) -> bool:
    nxt = now + timedelta(seconds=check.interval)
    won = CheckDefinition.objects.filter(pk=check.pk, next_run_at=check.next_run_at).update(
        next_run_at=nxt
    )
    return won == 1


def run_one(check: CheckDefinition, now: float | None = None) -> None:
    """Run a server-side check now and record its result (in the calling thread)."""
    state = getattr(getattr(check, "status", None), "state", None)
    result = run(check.spec(), state=state, side=Side.SERVER)
    results.record(check, result, now=now)


def _work(pk: int) -> None:
    try:
        check = CheckDefinition.objects.select_related("status").filter(pk=pk).first()
        if check is not None:
            run_one(check)
    except Exception:
        log.exception("server-side check %s failed", pk)
    finally:
        with _running_lock:
            _running.discard(pk)
        connection.close()


def run_due_checks(wait: bool = False) -> int:
    """The worker job. ``wait=True`` (tests, ``steward checks run``) runs in this thread."""
    now = timezone.now()
    started = 0
    for check in list(due_checks(now)[:500]):
        with _running_lock:
            if check.pk in _running:
                continue
        if not claim(check, now):
            continue
        started += 1
        if wait:
            run_one(check)
            continue
        with _running_lock:
            _running.add(check.pk)
        _pool.submit(_work, check.pk)
    return started
