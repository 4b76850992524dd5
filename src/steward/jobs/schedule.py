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
from steward.inventory import presence


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
)
