"""``POST /api/v1/agent/metrics``: a device's metric batches (docs/agent-protocol.md § Metrics).

The device comes from its credential, never from the body. A batch is validated whole
before anything is stored: one bad family or point refuses the batch with 422 and the
path of the first error, and the agent drops it instead of retrying it forever. Replays
are safe because the store ignores a (series, timestamp) it already has.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import OuterRef, Subquery
from django.http import HttpRequest, HttpResponse
from ninja import Router, Schema
from ninja.security import HttpBearer

from steward.accounts import tokens
from steward.agentapi.api import check_clock
from steward.alerts import derive, hooks
from steward.api.errors import ApiError
from steward.audit import context
from steward.inventory.models import Device
from steward.metrics import bodies, collection, ingest
from steward.metrics.agent_batch import (  # noqa: F401 - re-exported (tests, old imports)
    FORMATS,
    FORMATS_HEADER,
    Batch,
    ColumnFamily,
    Family,
    LabelItems,
    MetricsBatchIn,
    _from_model,
    fast_batch,
    parse_batch,
)
from steward.metrics.models import MetricsSettings
from steward.metrics.store import get_store
from steward.ops.middleware import client_address
from steward.tsdb.types import (
    DEVICE_LABEL,
    METRIC_NAME,
    ORG_LABEL,
    RESERVED_LABELS,
    AppendResult,
    Sample,
    SeriesMetadata,
)

router = Router(tags=["agent"])


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


def collection_interval(device: AgentDevice) -> int:
    """The interval for this device: its own, else its site's, else its organization's
    (``collection.effective``, on the three values ``device_for`` read with the device)."""
    return collection.effective(device.intervals)


# --- the batch ----------------------------------------------------------------------------


def series_labels(
    family_name: str, labels: dict[str, str], added: dict[str, str]
) -> dict[str, str]:
    """A series' stored labels: the agent's, less reserved and server-added names, then
    the server's (``added``) and the family name. The order is part of the store's id
    cache key, so every path builds them here."""
    out = {
        name: value
        for name, value in labels.items()
        if name not in added and name not in RESERVED_LABELS
    }
    out.update(added)
    out[METRIC_NAME] = family_name
    return out


# --- the series a device has sent before --------------------------------------------------

# What a known series resolves to: its id in the store and its stored labels.
Resolved = tuple[int, dict[str, str]]
MAX_KNOWN_PER_DEVICE = 20_000  # label sets remembered per device (the store allows 10,000)
MAX_KNOWN_DEVICES = 100_000


@dataclass
class KnownSeries:
    """The series a device sent before, by family name and label items as sent.

    A device sends the same label sets every round. Once one is stored, this maps it to
    its id and stored labels with one dict lookup: no label check (it was valid when it
    was stored, see ``agent_batch.Known``), no stored-label dict, no lookup of those in
    the store. Valid for one store and one set of server-added labels (host name,
    organization slug): when either changes, the device starts afresh. Ids stay right
    forever, since series are never deleted nor their ids reused (ADR 0002). The stored
    labels dicts are shared by every batch's ``Sample`` objects: read only.
    """

    store: weakref.ref[Any]  # not kept alive by this cache
    org_id: int
    added: dict[str, str]
    families: dict[str, dict[LabelItems, Resolved]] = field(default_factory=dict)
    size: int = 0
    last_stats_ms: int = 0  # timestamp of the device's last health samples (stats_time)

    def remember(self, family: str, labels_in: dict[str, str], resolved: Resolved) -> None:
        if self.size >= MAX_KNOWN_PER_DEVICE:
            return  # label orders beyond reason: the slow path still stores them right
        self.families.setdefault(family, {})[tuple(labels_in.items())] = resolved
        self.size += 1


_known: dict[int, KnownSeries] = {}  # device id -> its series
_known_lock = threading.Lock()


def known_series(store: Any, device: AgentDevice, added: dict[str, str]) -> KnownSeries | None:
    """The device's ``KnownSeries`` for this store and these added labels (None: a store
    that cannot be weakly referenced, which then resolves every series itself)."""
    entry = _known.get(device.pk)
    if (
        entry is None
        or entry.store() is not store
        or entry.org_id != device.organization_id
        or entry.added != added
    ):
        try:
            ref = weakref.ref(store)
        except TypeError:
            return None
        entry = KnownSeries(ref, device.organization_id, added)
        with _known_lock:
            if len(_known) >= MAX_KNOWN_DEVICES:
                _known.clear()
            _known[device.pk] = entry
    return entry


def forget_known_series() -> None:
    """Drop every device's known series (tests; a process that swaps its store)."""
    with _known_lock:
        _known.clear()


def batch_samples(batch: Batch, added: dict[str, str]) -> list[Sample]:
    samples: list[Sample] = []
    add = samples.append
    for family in batch.families:
        for labels_in, timestamps, values in family.columns():
            labels = series_labels(family.name, labels_in, added)
            for ts, value in zip(timestamps, values, strict=True):
                add(Sample(labels, ts, value))
    return samples


def stats_samples(batch: Batch, added: dict[str, str], ts: int) -> list[Sample]:
    """The agent's own health (spool size, drops, collector errors) as series of the device."""
    return [
        Sample({**added, METRIC_NAME: f"steward_agent_{name}"}, ts, value)
        for name, value in batch.agent_stats.items()
    ]


def stats_time(known: KnownSeries | None) -> int:
    """The timestamp of a batch's health samples: now, in ms, after the device's last
    (so two batches of one device within a millisecond do not collide)."""
    now = ingest.now_ms()
    if known is None:
        return now
    with _known_lock:
        now = known.last_stats_ms = max(now, known.last_stats_ms + 1)
    return now


def alert_inputs(org_id: int) -> frozenset[str] | None:
    """Metric names whose samples the alert rules of the organization read (their inputs
    and what ``derive`` computes them from), or None: hand every sample to them.

    ``hooks.on_samples`` skips every other name, so handing it only these families'
    samples evaluates the same; the rest of the batch goes to the store as rows, without
    a ``Sample`` per point.
    """
    try:
        return hooks.wanted_metrics(org_id) | derive.NEEDED
    except Exception:  # as hooks.reads_pushed_metrics: when unsure, the rules see all
        hooks.log.exception("could not read the alert rules of org %s", org_id)
        return None


def resolves(store: Any) -> bool:
    """Whether the store maps label sets to ids (``series_id``/``append_resolved_parts``)."""
    return hasattr(store, "append_resolved_parts") and hasattr(store, "series_id")


def append_batch(
    org_id: int,
    batch: Batch,
    added: dict[str, str],
    stats: list[Sample],
    known: KnownSeries | None = None,
) -> AppendResult:
    """Store the batch and the agent's health series, let the alert rules see them; the
    result counts the batch alone (the agent's answer).

    With a store that resolves series ids (``series_id``/``append_resolved_parts``), a series
    the process has stored before becomes ``(id, ts, value)`` rows built by C loops; only
    new series and those the alert rules read become ``Sample`` objects. ``known`` (the
    sender's series, which ``parse_batch`` looked up into the families' ``refs``) learns
    every series resolved here for the next batch.
    """
    store = get_store()
    if not resolves(store):
        # One transaction for both (when the store can), one pass of the alert rules.
        result, _ = ingest.append_parts(org_id, [batch_samples(batch, added), stats])
        return result
    series_id = store.series_id  # type: ignore[attr-defined]
    if known is not None and known.store() is not store:
        known = None  # the store changed since the batch was parsed: learn nothing
    inputs = alert_inputs(org_id)
    rows: list[tuple[int, int, float]] = []
    new: list[Sample] = []
    watched: list[Sample] = []
    for family in batch.families:
        seen = inputs is None or family.name in inputs
        refs = family.refs if known is not None else None
        for i, (labels_in, timestamps, values) in enumerate(family.columns()):
            ref: Resolved | None = refs[i] if refs else None
            if ref is not None:
                sid, labels = ref
            else:
                labels = series_labels(family.name, labels_in, added)
                sid = series_id(org_id, labels)
                if sid is not None and known is not None:
                    known.remember(family.name, labels_in, (sid, labels))
            if sid is not None:
                if len(timestamps) == 1:  # one round per batch, the usual send: one tuple
                    rows.append((sid, timestamps[0], values[0]))
                else:  # repeat() is endless: no strict
                    rows.extend(zip(repeat(sid), timestamps, values))
            if sid is None or seen:
                samples = [Sample(labels, ts, v) for ts, v in zip(timestamps, values, strict=True)]
                if sid is None:
                    new.extend(samples)
                if seen:
                    watched.extend(samples)
    # The health series go in the batch's transaction once the store knows them (after
    # the device's first batch), counted apart: one commit per request instead of two,
    # ~0.2 ms of server CPU (~5% of a 50 x 10 request, ~15% of a 10-series one), and the
    # answer counts the batch alone. Health series the store does not know yet may be
    # refused by a series limit: those still go in a transaction of their own.
    folded: list[tuple[int, int, float]] = []
    apart: list[Sample] = []
    for sample in stats:
        sid = series_id(org_id, sample.labels)
        if sid is None:
            apart.append(sample)
        else:
            folded.append((sid, sample.timestamp_ms, sample.value))
    if rows or new or folded:
        parts = [(rows, new), (folded, ())] if folded else [(rows, new)]
        result = store.append_resolved_parts(org_id, parts)[0]  # type: ignore[attr-defined]
    else:
        result = AppendResult()
    if apart:
        store.append(org_id, apart)
    watched = recent_for_rules(org_id, watched)
    watched.extend(stats)
    if watched:
        hooks.on_samples(org_id, watched)  # never raises
    return result


# Beyond the rules' longest window, how much older than the server's clock a sample may
# be and still reach the rules: the agent's allowed clock skew and a minute to spare.
RULES_GRACE_S = 60


def recent_for_rules(org_id: int, samples: list[Sample]) -> list[Sample]:
    """The samples the alert rules can still use: none older than the rules' longest
    window, plus the agents' allowed clock skew and a minute, before now.

    A rule judges its window up to *now*, and reads an older sample only as the "last
    value" of a series with nothing newer, which would make a replayed sample of
    yesterday count as today's. A spool replayed after a long outage, or a
    ``steward simulate --backfill``, is mostly such history: a day of it is 8,640 rounds,
    each sample a round of the rules (the rules made a 1-day backfill of 200 simulated
    hosts ingest at about 10,000 samples/s and time out). They are stored as usual; the
    rules see the part that can still matter. Recent replays (an outage of minutes) reach
    the rules whole.
    """
    if not samples:
        return samples
    try:
        window_s = hooks.metric_history_s(org_id)
    except Exception:  # as alert_inputs: when unsure, the rules see all
        hooks.log.exception("could not read the alert rules of org %s", org_id)
        return samples
    skew_s = settings.STEWARD["agent_max_clock_skew"]
    oldest = ingest.now_ms() - int((window_s + skew_s + RULES_GRACE_S) * 1000)
    if min(s.timestamp_ms for s in samples) >= oldest:
        return samples  # the usual batch: all recent
    return [s for s in samples if s.timestamp_ms >= oldest]


@router.post("/metrics", auth=AgentCredential(), response=MetricsAccepted)
async def agent_metrics(request: HttpRequest, response: HttpResponse):
    answer = await ingest.in_ingest_thread(store_batch, request, request.auth)  # type: ignore[attr-defined]
    response[FORMATS_HEADER] = ", ".join(FORMATS)
    return answer


def store_batch(request: HttpRequest, credential: str) -> dict[str, Any]:
    """The view's work, on an ingest thread: device, body, validation, store, answer.

    The device's ``KnownSeries`` is fetched before parsing, so that the validator can
    look each series up once and ``append_batch`` reuse what it found.
    """
    device = device_for(request, credential)
    raw = bodies.decoded_body(
        request,
        raw_limit=settings.STEWARD["agent_max_body"],
        limit=ingest.option("metrics_agent_max_decompressed"),
    )
    added = {
        ingest.INSTANCE: device.hostname,
        ingest.JOB: ingest.AGENT_JOB,
        DEVICE_LABEL: str(device.pk),
        ORG_LABEL: device.org_slug,
    }
    store = get_store()
    known = known_series(store, device, added) if resolves(store) else None
    with ingest.paused_gc():
        batch = parse_batch(raw, known.families if known is not None else None)
        check_clock(batch.sent_at)
        stats = stats_samples(batch, added, stats_time(known))
        result = append_batch(device.organization_id, batch, added, stats, known)
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
