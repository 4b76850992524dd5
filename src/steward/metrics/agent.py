"""``POST /api/v1/agent/metrics``: a device's metric batches (docs/agent-protocol.md § Metrics).

The device comes from its credential, never from the body. A batch is validated whole
before anything is stored: one bad family or point refuses the batch with 422 and the
path of the first error, and the agent drops it instead of retrying it forever. Replays
are safe because the store ignores a (series, timestamp) it already has.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from django.conf import settings
from django.db import connection
from django.db.models import OuterRef, Subquery
from django.http import HttpRequest
from ninja import Router, Schema
from ninja.security import HttpBearer
from pydantic import (
    BaseModel,
    Field,
    FiniteFloat,
    StringConstraints,
    ValidationError,
)

from steward.accounts import tokens
from steward.agentapi.api import check_clock
from steward.api.errors import ApiError, first_validation_message
from steward.audit import context
from steward.inventory.models import Device
from steward.metrics import bodies, ingest
from steward.metrics.models import MetricsSettings
from steward.ops.middleware import client_address
from steward.tsdb.types import (
    DEVICE_LABEL,
    METRIC_NAME,
    ORG_LABEL,
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


# --- who is sending ----------------------------------------------------------------------


@dataclass(frozen=True)
class AgentDevice:
    """What a metrics batch needs of its device: one query, no model instance.

    ``DeviceAuth`` loads the whole ``Device`` (its inventory JSON included) with its
    organization and site through the ORM: ~2 ms of a ~10 ms batch. This endpoint reads
    the few columns it uses, the organization's slug and the three interval settings in
    one SQL statement, with the same answers for unknown (401) and revoked (403)
    credentials.
    """

    pk: int
    hostname: str
    organization_id: int
    site_id: int | None
    org_slug: str
    intervals: tuple[int | None, int | None, int | None]  # device, site, organization


_HASH_PLACEHOLDER = "credential-hash-placeholder"


def _device_query() -> tuple[str, list[Any], int]:
    """The lookup's SQL, compiled by the ORM once: (sql, params, index of the hash)."""

    def interval(**scope: Any) -> Subquery:
        # At most one row per scope (one-to-one fields, one organization-wide row).
        rows = MetricsSettings.objects.filter(
            organization_id=OuterRef("organization_id"), metrics_interval__isnull=False, **scope
        )
        return Subquery(rows.values("metrics_interval")[:1])

    query = (
        Device.objects.filter(credential_hash=_HASH_PLACEHOLDER)
        .annotate(
            device_interval=interval(device_id=OuterRef("pk")),
            site_interval=interval(site_id=OuterRef("site_id")),
            org_interval=interval(site__isnull=True, device__isnull=True),
        )
        .values_list(
            "pk",
            "hostname",
            "organization_id",
            "site_id",
            "revoked_at",
            "organization__slug",
            "device_interval",
            "site_interval",
            "org_interval",
        )
        .query
    )
    sql, params = query.sql_with_params()
    return sql, list(params), list(params).index(_HASH_PLACEHOLDER)


_DEVICE_QUERY: dict[str, tuple[str, list[Any], int]] = {}  # per database vendor


class AgentCredential(HttpBearer):
    """A device credential (Bearer), checked by the view on an ingest thread.

    Async, so ninja calls it on the event loop: it only reads the header (401 for
    anything that is not a device credential, as ``agentapi.api.DeviceAuth``); the
    lookup (``device_for``) runs with the rest of the request in one hop to an ingest
    thread, whose database connection stays open (see ``ingest.in_ingest_thread``).
    """

    is_async = True

    async def __call__(self, request: HttpRequest) -> str | None:  # type: ignore[override]
        return super().__call__(request)

    def authenticate(self, request: HttpRequest, token: str) -> str:
        if not token.startswith(tokens.DEVICE_CREDENTIAL_PREFIX):
            raise _unknown_credential()
        return token


def _unknown_credential() -> ApiError:
    return ApiError(401, "invalid_credential", "unknown device credential")


def device_for(request: HttpRequest, token: str) -> AgentDevice:
    """The device of a credential (401 unknown, 403 revoked), into the audit context."""
    compiled = _DEVICE_QUERY.get(connection.vendor)
    if compiled is None:
        compiled = _DEVICE_QUERY[connection.vendor] = _device_query()
    sql, params, at = compiled
    params = params.copy()
    params[at] = tokens.hash_secret(token)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        raise _unknown_credential()
    pk, hostname, org_id, site_id, revoked_at, slug, *intervals = row
    if revoked_at is not None:
        raise ApiError(403, "device_revoked", "this device has been revoked: the agent must stop")
    context.set_actor(
        context.Actor(label=f"device:{pk}", source="agent", address=client_address(request))
    )
    return AgentDevice(pk, hostname, org_id, site_id, slug, tuple(intervals))  # type: ignore[arg-type]


def collection_interval(device: Device | AgentDevice) -> int:
    """The interval for this device: its own, else its site's, else its organization's."""
    if isinstance(device, AgentDevice):
        found = device.intervals
    else:
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
        found = (by_scope.get("device"), by_scope.get("site"), by_scope.get("organization"))
    for interval in found:
        if interval is not None:
            return int(interval)
    return int(ingest.option("metrics_interval"))


# --- the batch ----------------------------------------------------------------------------


@dataclass
class Family:
    name: str
    type: MetricType
    unit: str
    help: str
    series: list[tuple[dict[str, str], list[tuple[int, float]]]]


@dataclass
class Batch:
    """A validated batch as plain data (what ``MetricsBatchIn`` holds, without models)."""

    batch_id: str
    sent_at: datetime | None
    families: list[Family]
    agent_stats: dict[str, float]


_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME = re.compile(r"[a-zA-Z][a-zA-Z0-9_]*")
_STAT_NAME = re.compile(r"[a-z][a-z0-9_]*")
# What the agent sends (datetime.isoformat() of an aware time); anything else goes to
# pydantic, whose parse of this form is the same datetime.
_SENT_AT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?(?:Z|[+-]\d\d:\d\d)")
_TYPES = {t.value: t for t in MetricType}
_MAX_INT = 2**63


def _fast_points(points: Any) -> list[tuple[int, float]] | None:
    if type(points) is not list or not 1 <= len(points) <= 10_000:
        return None
    out = []
    add = out.append
    for point in points:
        if type(point) is not list or len(point) != 2:
            return None
        ts, value = point
        if type(ts) is not int or ts < 0:
            return None
        kind = type(value)
        if kind is float:
            if value - value != 0.0:  # inf or nan
                return None
        elif kind is not int or not -_MAX_INT <= value < _MAX_INT:
            return None
        add((ts, float(value)))
    return out


def _fast_text(value: Any, limit: int) -> str | None:
    return value if type(value) is str and len(value) <= limit else None


def fast_batch(data: Any) -> Batch | None:
    """``data`` as a ``Batch`` when it is certainly valid, else None (let pydantic judge).

    Accepts a strict subset of what ``MetricsBatchIn`` does (exact JSON types, the
    agent's ``sent_at`` form), with the same values, so valid batches skip building
    ~600 model objects and every invalid one still gets pydantic's error path.
    """
    if type(data) is not dict:
        return None
    batch_id = data.get("batch_id")
    if type(batch_id) is not str or not 1 <= len(batch_id) <= 100:
        return None
    sent_at = data.get("sent_at")
    if sent_at is not None:
        if type(sent_at) is not str or not _SENT_AT.fullmatch(sent_at):
            return None
        try:
            sent_at = datetime.fromisoformat(sent_at)
        except ValueError:  # month 13, offset +25:00...
            return None
    families_in = data.get("families")
    if type(families_in) is not list or len(families_in) > 5_000:
        return None
    families = []
    for family in families_in:
        if type(family) is not dict:
            return None
        name = family.get("name")
        if type(name) is not str or len(name) > 200 or not _METRIC_NAME.fullmatch(name):
            return None
        kind = _TYPES.get(family.get("type", "unknown"))  # type: ignore[arg-type]
        unit = _fast_text(family.get("unit", ""), 64)
        help_ = _fast_text(family.get("help", ""), 1024)
        series_in = family.get("series")
        if (
            kind is None
            or unit is None
            or help_ is None
            or type(series_in) is not list
            or len(series_in) > 20_000
        ):
            return None
        series = []
        for item in series_in:
            if type(item) is not dict:
                return None
            labels = item.get("labels", {})
            if type(labels) is not dict or len(labels) > 64:
                return None
            for key, value in labels.items():
                if (
                    len(key) > 100
                    or not _LABEL_NAME.fullmatch(key)
                    or type(value) is not str
                    or len(value) > 1024
                ):
                    return None
            points = _fast_points(item.get("points"))
            if points is None:
                return None
            series.append((labels, points))
        families.append(Family(name, kind, unit, help_, series))
    stats = data.get("agent_stats", {})
    if type(stats) is not dict or len(stats) > 32:
        return None
    agent_stats = {}
    for key, value in stats.items():
        if len(key) > 64 or not _STAT_NAME.fullmatch(key):
            return None
        if type(value) not in (int, float) or not 0 <= value < math.inf:
            return None
        agent_stats[key] = float(value)
    return Batch(batch_id, sent_at, families, agent_stats)


def _from_model(model: MetricsBatchIn) -> Batch:
    return Batch(
        model.batch_id,
        model.sent_at,
        [
            Family(
                f.name,
                f.type,
                f.unit,
                f.help,
                [(dict(s.labels), [(ts, float(v)) for ts, v in s.points]) for s in f.series],
            )
            for f in model.families
        ],
        dict(model.agent_stats),
    )


def parse_batch(raw: bytes) -> Batch:
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(422, "invalid_request", f"the body is not valid JSON: {exc}") from None
    fast = fast_batch(data)
    if fast is not None:
        return fast
    try:
        return _from_model(MetricsBatchIn.model_validate(data))
    except ValidationError as exc:
        errors = [
            # A dict key's error ends its path with "[key]": the key itself says it.
            {**e, "loc": [part for part in e["loc"] if part != "[key]"]}
            for e in exc.errors(include_url=False)
        ]
        raise ApiError(422, "invalid_request", first_validation_message(errors)) from None


def batch_samples(batch: Batch, added: dict[str, str]) -> list[Sample]:
    samples: list[Sample] = []
    add = samples.append
    for family in batch.families:
        for series_labels, points in family.series:
            labels = {
                name: value
                for name, value in series_labels.items()
                if name not in added and name not in RESERVED_LABELS
            }
            labels.update(added)
            labels[METRIC_NAME] = family.name
            for ts, value in points:
                add(Sample(labels, ts, value))
    return samples


def stats_samples(batch: Batch, added: dict[str, str], ts: int) -> list[Sample]:
    """The agent's own health (spool size, drops, collector errors) as series of the device."""
    return [
        Sample({**added, METRIC_NAME: f"steward_agent_{name}"}, ts, value)
        for name, value in batch.agent_stats.items()
    ]


@router.post("/metrics", auth=AgentCredential(), response=MetricsAccepted)
async def agent_metrics(request: HttpRequest):
    return await ingest.in_ingest_thread(store_batch, request, request.auth)  # type: ignore[attr-defined]


def store_batch(request: HttpRequest, credential: str) -> dict[str, Any]:
    device = device_for(request, credential)
    raw = bodies.decoded_body(
        request,
        raw_limit=settings.STEWARD["agent_max_body"],
        limit=ingest.option("metrics_agent_max_decompressed"),
    )
    with ingest.paused_gc():
        batch = parse_batch(raw)
        check_clock(batch.sent_at)
        added = {
            ingest.INSTANCE: device.hostname,
            ingest.JOB: ingest.AGENT_JOB,
            DEVICE_LABEL: str(device.pk),
            ORG_LABEL: device.org_slug,
        }
        # The batch and the agent's health series: one transaction (when the store can),
        # one pass of the alert rules, counted apart (the answer counts the batch).
        result, _ = ingest.append_parts(
            device.organization_id,
            [batch_samples(batch, added), stats_samples(batch, added, ingest.now_ms())],
        )
    ingest.record_metadata(
        device.organization_id,
        [SeriesMetadata(f.name, f.type, f.unit, f.help) for f in batch.families],
    )
    return {
        "accepted": result.accepted,
        "duplicates": result.duplicates,
        "rejected": result.rejected,
        "errors": result.errors[:20],
        "interval": collection_interval(device),
    }
