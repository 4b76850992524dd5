"""Agent endpoints for checks (docs/agent-protocol.md § "Checks"), mounted at /api/v1/agent.

* ``GET /checks``: the checks assigned to the calling device and a ``revision``;
* ``POST /check-results``: results, evaluated on arrival;
* ``checks_revision(device)``: the value the heartbeat response carries, so the agent
  refetches the list only when it changed (an edit, a new check, a "run now" request).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.utils import timezone
from ninja import Router, Schema

from steward.agentapi.api import DeviceAuth, check_clock
from steward.alerts import results
from steward.alerts.models import CheckDefinition
from steward.checks import CheckResult

router = Router(tags=["agent"])


class CheckOut(Schema):
    id: int
    type: str
    target: str
    params: dict[str, Any]
    interval: float
    timeout: float
    retries: int
    run_requested_at: datetime | None = None


class ChecksOut(Schema):
    revision: str
    checks: list[CheckOut]


class ResultIn(Schema):
    check_id: int
    status: str
    message: str = ""
    latency_ms: float | None = None
    observed_at: datetime
    perfdata: list[dict[str, Any]] = []
    state: dict[str, Any] | None = None
    details: str = ""


class ResultsIn(Schema):
    sent_at: datetime | None = None
    results: list[ResultIn]


class ResultsOut(Schema):
    accepted: int
    unknown_checks: list[int]


def _assigned(device) -> list[CheckDefinition]:
    return list(CheckDefinition.objects.filter(device=device, enabled=True).order_by("pk"))


def _revision(checks: list[CheckDefinition]) -> str:
    return _revision_of((c.pk, c.updated_at, c.run_requested_at) for c in checks)


def _revision_of(rows: Iterable[tuple[int, datetime, datetime | None]]) -> str:
    """A digest of (pk, updated_at, run_requested_at) of the assigned checks, in pk order."""
    basis = [
        (pk, updated.isoformat(), requested.isoformat() if requested else "")
        for pk, updated, requested in rows
    ]
    return hashlib.sha256(json.dumps(basis).encode()).hexdigest()[:16]


def checks_revision(device) -> str:
    """For the heartbeat response's ``checks_revision`` field: three columns of the
    assigned checks, not whole rows (every heartbeat asks)."""
    rows = (
        CheckDefinition.objects.filter(device=device, enabled=True)
        .order_by("pk")
        .values_list("pk", "updated_at", "run_requested_at")
    )
    return _revision_of(rows)


@router.get("/checks", auth=DeviceAuth(), response=ChecksOut)
def agent_checks(request):
    checks = _assigned(request.auth)
    return {
        "revision": _revision(checks),
        "checks": [
            {"id": c.pk, "type": c.type, "target": c.target, "params": c.params or {},
             "interval": c.interval, "timeout": c.timeout, "retries": c.retries,
             "run_requested_at": c.run_requested_at}
            for c in checks
        ],
    }  # fmt: skip


@router.post("/check-results", auth=DeviceAuth(), response=ResultsOut)
def agent_check_results(request, body: ResultsIn):
    check_clock(body.sent_at)
    device = request.auth
    ids = {r.check_id for r in body.results}
    checks = {
        c.pk: c
        for c in CheckDefinition.objects.filter(device=device, pk__in=ids).select_related("status")
    }
    unknown: list[int] = []
    accepted = 0
    for item in sorted(body.results, key=lambda r: r.observed_at):
        check = checks.get(item.check_id)
        if check is None:
            unknown.append(item.check_id)
            continue
        data = item.model_dump()
        data["observed_at"] = item.observed_at.isoformat()
        try:
            result = CheckResult.from_dict(data)
        except (ValueError, KeyError, TypeError, OverflowError):  # malformed: only it is rejected
            unknown.append(item.check_id)
            continue
        results.record(check, result)
        accepted += 1
    return {"accepted": accepted, "unknown_checks": sorted(set(unknown))}


def now() -> datetime:
    return timezone.now()
