"""Recording a check result: current state (soft/hard), time series, engine input.

``record`` is the one path for agent-posted and server-run results alike:

1. ``CheckStatus`` advances with ``steward.checks.advance`` (Nagios soft/hard semantics,
   ``retries`` further failures tolerated); ``last_change_at`` moves when the hard state
   changes.
2. The result is written as metrics when the time-series store is available
   (``steward_check_status`` = 0..3, ``steward_check_latency_ms``), labelled with the
   check and its device, so a check's history can be graphed like any metric.
3. The *hard* state goes to the engine at once (``hooks.on_check_result``); a result older
   than ``MAX_PAGE_AGE_S`` (an agent's spool replayed after an outage) is stored but does
   not page. A result that does not change the stored hard state is not urgent: it is
   batched with others by the feeder thread (``_urgent``, ``runtime.observe_soon``).
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

from django.db import connection, transaction
from django.utils import timezone

from steward.alerting import Sample
from steward.alerts import hooks, runtime
from steward.alerts.models import CheckDefinition, CheckStatus
from steward.checks import CheckResult, CheckState, Status, advance

log = logging.getLogger("steward.alerts")
MAX_PAGE_AGE_S = 600.0
# A check that stays OK changes nothing in the engine: such results are fed at most this
# often (the engine forgets inputs silent for a day). Any non-OK or changed hard state is
# fed at once. With 1,000 devices reporting healthy checks this removes nearly all engine
# rounds (and their state writes) from the ingest path.
REFEED_OK_S = 3600.0


def _previous(status: CheckStatus) -> CheckState | None:
    if status.status == "pending":
        return None
    return CheckState(
        hard=Status.from_label(status.status),
        current=Status.from_label(status.current),
        attempt=status.attempt,
        soft=status.soft,
    )


def record(
    check: CheckDefinition, result: CheckResult, now: float | None = None, page: bool = True
) -> CheckStatus:
    at = time.time() if now is None else now
    observed = result.observed_at
    if observed.tzinfo is None:
        observed = observed.replace(tzinfo=UTC)
    with transaction.atomic():
        qs = CheckStatus.objects.filter(definition=check)
        if connection.features.has_select_for_update:
            qs = qs.select_for_update()
        status = qs.first() or CheckStatus.objects.create(definition=check)
        # Counted already (an agent re-posting a batch whose answer it lost) or older than
        # the stored state: advancing again would count one failure twice (a soft state
        # turned hard, a page). Its point is still stored (series de-duplicate timestamps).
        replayed = status.last_run_at is not None and observed <= status.last_run_at
        if not replayed:
            new, was = _advance(check, status, result, observed, at)
    if replayed:
        _store_series(check, result)
        return status
    if (
        page
        and at - observed.timestamp() <= MAX_PAGE_AGE_S
        and _worth_feeding(check, new.hard.value, at)
    ):
        try:
            hooks.on_check_result(
                check, new.hard.value, observed.timestamp(), result.message,
                _perf_samples(check, result), now, urgent=_urgent(was, new.hard.value),
            )  # fmt: skip
        except Exception:
            runtime.fed_checks.pop(check.pk, None)  # feed the next result whatever it is
            log.exception("alert evaluation of check %s failed", check.pk)
    _store_series(check, result)  # after paging: the fault -> page path comes first
    return status


def _advance(
    check: CheckDefinition, status: CheckStatus, result: CheckResult, observed: datetime, at: float
):
    """Advance and save ``status`` with ``result``; returns the new state and the old label."""
    new = advance(_previous(status), result.status, check.retries)
    was = status.status
    status.status = new.hard.label
    status.current = new.current.label
    status.soft = new.soft
    status.attempt = new.attempt
    status.message = result.message[:2000]
    status.last_result = result.to_dict()
    if result.state is not None:
        status.state = result.state
    status.last_run_at = observed
    if was != status.status:
        status.last_change_at = datetime.fromtimestamp(at, UTC)
    status.save()
    if check.run_requested_at is not None and observed >= check.run_requested_at:
        CheckDefinition.objects.filter(pk=check.pk).update(run_requested_at=None)
    return new, was


def _urgent(was: str, hard: int) -> bool:
    """Whether the engine must see this result before the request returns: a hard change.

    A result repeating the stored hard state cannot fire or resolve anything: the healthy
    per-process first feeds (``_worth_feeding``, which after a restart or on a new install
    arrive from every device at once) and the results of checks that keep failing (each
    one otherwise a full engine round per interval). Batching those keeps a new fault from
    queueing behind them. A new check's first healthy result changes nothing either.
    """
    if was == "pending":
        return hard != 0
    return Status.from_label(was).value != hard


def _worth_feeding(check: CheckDefinition, hard: int, at: float) -> bool:
    previous = runtime.fed_checks.get(check.pk)
    if hard != 0 or check.type == "tls" or previous is None or previous[0] != hard:
        runtime.fed_checks[check.pk] = (hard, at)
        return True
    if at - previous[1] >= REFEED_OK_S:
        runtime.fed_checks[check.pk] = (hard, at)
        return True
    return False


def _perf_samples(check: CheckDefinition, result: CheckResult) -> list[Sample]:
    if check.type != "tls":
        return []
    labels = hooks.check_labels(check)
    ts = result.observed_at.timestamp()
    return [
        Sample("steward_tls_days_left", labels, ts, float(m.value))
        for m in result.perfdata
        if m.name == "days_left" and m.value is not None
    ]


def _store_series(check: CheckDefinition, result: CheckResult) -> None:
    """Best effort: the metrics app may not be installed (or finished) yet."""
    try:
        from steward.metrics.store import get_store
        from steward.tsdb.types import DEVICE_LABEL, METRIC_NAME
        from steward.tsdb.types import Sample as TsSample
    except ImportError:
        return
    labels = {"check": check.name, "check_type": check.type}
    if check.device_id is not None:
        labels[DEVICE_LABEL] = str(check.device_id)
    ms = int(result.observed_at.timestamp() * 1000)
    samples = [TsSample({METRIC_NAME: "steward_check_status", **labels}, ms, result.status.value)]
    if result.latency_ms is not None:
        samples.append(
            TsSample({METRIC_NAME: "steward_check_latency_ms", **labels}, ms, result.latency_ms)
        )
    try:
        get_store().append(check.organization_id, samples)
    except Exception:  # the store is optional here: the current state is already saved
        log.warning("could not store check %s result as metrics", check.pk, exc_info=True)


def now_dt() -> datetime:
    return timezone.now()
