"""Worker jobs of the insights app (add them to ``steward.jobs.schedule.JOBS``).

* ``score_series`` (every 30 s): ``scoring.score_all`` over every organization, oldest
  turn first; an organization the time budget did not reach goes first next run.
* ``compute_forecasts`` (every 10 min): ``forecasting.forecast_organization`` for each.
* ``assess_disks`` (every 10 min): ``disk_health.run`` for each (SMART failure risk).

After each organization's run the results go to the alert engine (``insights.alerting``,
``disk_health.run``) for the ``anomaly``, ``forecast`` and ``disk_health`` rules.

The job lease (``steward.jobs.worker``) makes one worker at a time run each job; the
cursor guard in ``scoring._save`` keeps learning exactly-once even if a lease expired under
a slow run.
"""

from __future__ import annotations

import logging
import time

from steward.insights import alerting, disk_health, forecasting, scoring
from steward.metrics.store import get_store
from steward.tenancy.models import Organization

log = logging.getLogger("steward.insights")

SCORE_BUDGET_S = 120.0  # well inside the 5-minute job lease
_first: list[int] = []  # organizations left unfinished by the last run in this process


def _organizations() -> list[tuple[int, str]]:
    orgs = list(Organization.objects.order_by("pk").values_list("pk", "slug"))
    if _first:
        ahead = set(_first)
        orgs = [o for o in orgs if o[0] in ahead] + [o for o in orgs if o[0] not in ahead]
    return orgs


def _feed(what: str, org_id: int, feed) -> None:
    """Alerting must never fail the job that computed the results (they are stored)."""
    try:
        feed(org_id)
    except Exception:
        log.exception("feeding %s of org %s to the alert engine failed", what, org_id)


def score_series() -> scoring.ScoreResult:
    orgs = _organizations()
    result = scoring.score_all(get_store(), orgs, budget_s=SCORE_BUDGET_S)
    _first[:] = result.unfinished
    for org_id, _ in orgs:
        if org_id not in result.unfinished and org_id not in result.failed:
            _feed("anomalies", org_id, alerting.feed_anomalies)
    return result


def compute_forecasts() -> list[forecasting.ForecastResult]:
    store = get_store()
    now_ms = int(time.time() * 1000)
    results = []
    for org_id in Organization.objects.order_by("pk").values_list("pk", flat=True):
        try:
            results.append(forecasting.forecast_organization(store, org_id, now_ms))
        except Exception:
            # As for disks: one organization's failure leaves the others' forecasts fresh.
            log.exception("forecasts of org %s failed", org_id)
            continue
        _feed("forecasts", org_id, alerting.feed_forecasts)
    return results


def assess_disks() -> int:
    store = get_store()
    now_ms = int(time.time() * 1000)
    disks = 0
    for org_id in Organization.objects.order_by("pk").values_list("pk", flat=True):
        try:
            disks += len(disk_health.run(store, org_id, now_ms))
        except Exception:
            log.exception("disk health of org %s failed", org_id)
    return disks
