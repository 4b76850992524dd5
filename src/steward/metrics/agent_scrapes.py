"""Agent endpoints for scrape targets an agent scrapes (docs/agent-protocol.md § Scrape
targets), mounted at /api/v1/agent.

A target inside a customer's network (a switch's SNMP exporter, a printer, a NAS) is out
of the server's reach; ``ScrapeTarget.scraper`` names the device whose agent scrapes it.

* ``GET /scrape-targets``: the enabled targets assigned to the calling device;
* ``POST /scrape-results``: what the agent fetched, as the exposition text itself (gzip
  JSON). The server parses and labels it exactly as its own scrapes
  (``scrape.scraped_by_agent``, ``scrape.store_scrapes``: the target's ``job``,
  ``instance``, device and organization labels, ``up``, ``scrape_duration_seconds``,
  ``scrape_samples_scraped``, and the target's status fields). A result for a target that
  is not (or no longer) this device's is refused alone and named in the answer; the
  others are stored. Replays are safe: the store ignores a (series, timestamp) it has.
"""

from __future__ import annotations

import json
from datetime import datetime

from django.conf import settings
from ninja import Router, Schema
from pydantic import BaseModel, Field, ValidationError

from steward.agentapi.api import DeviceAuth, check_clock
from steward.api.errors import ApiError, first_validation_message
from steward.metrics import bodies, ingest, scrape
from steward.metrics.models import ScrapeTarget

router = Router(tags=["agent"])

MAX_RESULTS = 100


class AgentScrapeTarget(Schema):
    id: int
    url: str
    interval_seconds: int
    timeout_seconds: int


class AgentScrapeTargets(Schema):
    targets: list[AgentScrapeTarget]
    max_body: int  # bytes of exposition text the agent may read from one target


class ScrapeResultIn(BaseModel):
    target_id: int
    started_ms: int = Field(ge=0)
    duration: float = Field(ge=0, le=3600)
    error: str = Field("", max_length=1000)
    body: str = ""


class ScrapeResultsIn(BaseModel):
    sent_at: datetime | None = None
    results: list[ScrapeResultIn] = Field(max_length=MAX_RESULTS)


class ScrapeResultsOut(Schema):
    accepted: int
    unknown_targets: list[int]
    errors: dict[str, str]  # target id -> the error recorded on it (empty ones left out)


@router.get("/scrape-targets", auth=DeviceAuth(), response=AgentScrapeTargets)
def agent_scrape_targets(request):
    targets = ScrapeTarget.objects.filter(scraper=request.auth, enabled=True).order_by("pk")
    return {
        "targets": [
            {"id": t.pk, "url": t.url, "interval_seconds": t.interval_seconds,
             "timeout_seconds": t.timeout_seconds}
            for t in targets
        ],
        "max_body": ingest.option("metrics_scrape_max_body"),
    }  # fmt: skip


@router.post("/scrape-results", auth=DeviceAuth(), response=ScrapeResultsOut)
def agent_scrape_results(request):
    raw = bodies.decoded_body(
        request,
        raw_limit=settings.STEWARD["agent_max_body"],
        limit=ingest.option("metrics_agent_max_decompressed"),
    )
    try:
        body = ScrapeResultsIn.model_validate(json.loads(raw))
    except (ValueError, UnicodeDecodeError) as exc:
        if isinstance(exc, ValidationError):
            message = first_validation_message(exc.errors(include_url=False))
        else:
            message = f"the body is not valid JSON: {exc}"
        raise ApiError(422, "invalid_request", message) from None
    check_clock(body.sent_at)
    ids = {r.target_id for r in body.results}
    targets = {
        t.pk: t
        for t in ScrapeTarget.objects.filter(
            scraper=request.auth, enabled=True, pk__in=ids
        ).select_related("organization")
    }
    pairs = []
    unknown: set[int] = set()
    for item in sorted(body.results, key=lambda r: r.started_ms):
        target = targets.get(item.target_id)
        if target is None:
            unknown.add(item.target_id)
            continue
        scraped = scrape.scraped_by_agent(item.started_ms, item.duration, item.error, item.body)
        pairs.append((target, scraped))
    recorded = scrape.store_scrapes(pairs) if pairs else {}
    return {
        "accepted": len(pairs),
        "unknown_targets": sorted(unknown),
        "errors": {str(pk): error for pk, error in recorded.items() if error},
    }
