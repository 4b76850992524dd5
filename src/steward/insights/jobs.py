"""Worker jobs of the insights app (add them to ``steward.jobs.schedule.JOBS``).

* ``score_series`` (every 30 s): ``scoring.score_all`` over every organization, oldest
  turn first; an organization the time budget did not reach goes first next run.
* ``compute_forecasts`` (every 10 min): ``forecasting.forecast_organization`` for each.

The job lease (``steward.jobs.worker``) makes one worker at a time run each job; the
cursor guard in ``scoring._save`` keeps learning exactly-once even if a lease expired under
a slow run.
"""

from __future__ import annotations

import time

from steward.insights import forecasting, scoring
from steward.metrics.store import get_store
from steward.tenancy.models import Organization

SCORE_BUDGET_S = 120.0  # well inside the 5-minute job lease
_first: list[int] = []  # organizations left unfinished by the last run in this process


def _organizations() -> list[tuple[int, str]]:
    orgs = list(Organization.objects.order_by("pk").values_list("pk", "slug"))
    if _first:
        ahead = set(_first)
        orgs = [o for o in orgs if o[0] in ahead] + [o for o in orgs if o[0] not in ahead]
    return orgs


def score_series() -> scoring.ScoreResult:
    result = scoring.score_all(get_store(), _organizations(), budget_s=SCORE_BUDGET_S)
    _first[:] = result.unfinished
    return result


def compute_forecasts() -> list[forecasting.ForecastResult]:
    store = get_store()
    now_ms = int(time.time() * 1000)
    return [
        forecasting.forecast_organization(store, org_id, now_ms)
        for org_id in Organization.objects.order_by("pk").values_list("pk", flat=True)
    ]
