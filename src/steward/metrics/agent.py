"""``POST /api/v1/agent/metrics``: a device's metric batches (docs/agent-protocol.md § Metrics).

The device comes from its credential, never from the body. A batch is validated whole
before anything is stored: one bad family or point refuses the batch with 422 and the
path of the first error, and the agent drops it instead of retrying it forever. Replays
are safe because the store ignores a (series, timestamp) it already has.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated

from django.conf import settings
from django.http import HttpRequest
from ninja import Router, Schema
from pydantic import (
    BaseModel,
    Field,
    FiniteFloat,
    StringConstraints,
    ValidationError,
)

from steward.agentapi.api import DeviceAuth, check_clock
from steward.api.errors import ApiError, first_validation_message
from steward.inventory.models import Device
from steward.metrics import bodies, ingest
from steward.metrics.models import MetricsSettings
from steward.tsdb.types import (
    METRIC_NAME,
    RESERVED_LABELS,
    MetricType,
    Sample,
    SeriesMetadata,
)

router = Router(tags=["agent"])

MetricName = Annotated[
    str, StringConstraints(pattern=r"^[a-zA-Z_:][a-zA-Z0-9_:]*$", max_length=200)
]
LabelName = Annotated[str, StringConstraints(pattern=r"^[a-zA-Z][a-zA-Z0-9_]*$", max_length=100)]
LabelValue = Annotated[str, StringConstraints(max_length=1024)]
StatName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
Timestamp = Annotated[int, Field(strict=True, ge=0)]


class SeriesIn(BaseModel):
    labels: dict[LabelName, LabelValue] = Field(default_factory=dict, max_length=64)
    points: list[tuple[Timestamp, FiniteFloat]] = Field(min_length=1, max_length=10_000)


class FamilyIn(BaseModel):
    name: MetricName
    type: MetricType = MetricType.UNKNOWN
    unit: Annotated[str, StringConstraints(max_length=64)] = ""
    help: Annotated[str, StringConstraints(max_length=1024)] = ""
    series: list[SeriesIn] = Field(max_length=20_000)


class MetricsBatchIn(BaseModel):
    batch_id: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    sent_at: datetime | None = None
    families: list[FamilyIn] = Field(max_length=5_000)
    agent_stats: dict[StatName, Annotated[float, Field(ge=0, allow_inf_nan=False)]] = Field(
        default_factory=dict, max_length=32
    )


class MetricsAccepted(Schema):
    accepted: int
    duplicates: int
    rejected: int
    errors: list[str]
    interval: int


def collection_interval(device: Device) -> int:
    """The interval for this device: its own, else its site's, else its organization's."""
    rows = MetricsSettings.objects.filter(
        organization_id=device.organization_id, metrics_interval__isnull=False
    ).values_list("device_id", "site_id", "metrics_interval")
    by_scope: dict[str, int] = {}
    for device_id, site_id, interval in rows:
        if device_id == device.pk:
            by_scope["device"] = interval
        elif site_id is not None and site_id == device.site_id:
            by_scope["site"] = interval
        elif device_id is None and site_id is None:
            by_scope["organization"] = interval
    for scope in ("device", "site", "organization"):
        if scope in by_scope:
            return by_scope[scope]
    return int(ingest.option("metrics_interval"))


def parse_batch(raw: bytes) -> MetricsBatchIn:
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(422, "invalid_request", f"the body is not valid JSON: {exc}") from None
    try:
        return MetricsBatchIn.model_validate(data)
    except ValidationError as exc:
        errors = [
            # A dict key's error ends its path with "[key]": the key itself says it.
            {**e, "loc": [part for part in e["loc"] if part != "[key]"]}
            for e in exc.errors(include_url=False)
        ]
        raise ApiError(422, "invalid_request", first_validation_message(errors)) from None


def batch_samples(batch: MetricsBatchIn, added: dict[str, str]) -> list[Sample]:
    samples: list[Sample] = []
    add = samples.append
    for family in batch.families:
        for series in family.series:
            labels = {
                name: value
                for name, value in series.labels.items()
                if name not in added and name not in RESERVED_LABELS
            }
            labels.update(added)
            labels[METRIC_NAME] = family.name
            for ts, value in series.points:
                add(Sample(labels, ts, value))
    return samples


def stats_samples(batch: MetricsBatchIn, added: dict[str, str], ts: int) -> list[Sample]:
    """The agent's own health (spool size, drops, collector errors) as series of the device."""
    return [
        Sample({**added, METRIC_NAME: f"steward_agent_{name}"}, ts, value)
        for name, value in batch.agent_stats.items()
    ]


@router.post("/metrics", auth=DeviceAuth(), response=MetricsAccepted)
def agent_metrics(request: HttpRequest):
    device: Device = request.auth  # type: ignore[attr-defined]
    raw = bodies.decoded_body(
        request,
        raw_limit=settings.STEWARD["agent_max_body"],
        limit=ingest.option("metrics_agent_max_decompressed"),
    )
    with ingest.paused_gc():
        batch = parse_batch(raw)
        check_clock(batch.sent_at)
        org = device.organization
        added = ingest.device_labels(device, org.slug)
        result = ingest.append(org.pk, batch_samples(batch, added))
    ingest.append(org.pk, stats_samples(batch, added, ingest.now_ms()))
    ingest.record_metadata(
        org.pk,
        [SeriesMetadata(f.name, f.type, f.unit, f.help) for f in batch.families],
    )
    return {
        "accepted": result.accepted,
        "duplicates": result.duplicates,
        "rejected": result.rejected,
        "errors": result.errors[:20],
        "interval": collection_interval(device),
    }
