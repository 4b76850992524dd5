"""The two wire formats of an agent metrics batch, validated into one plain ``Batch``.

* ``points`` (the first format, every agent version): each series carries
  ``"points": [[timestamp_ms, value], ...]``.
* ``columns``: the batch carries its collection rounds' times once, ``"timestamps":
  [t0, t1, ...]``, and each series ``"values": [v0, v1, ...]`` aligned with them (``null``
  where a round has no sample of that series). A batch of 10 rounds repeats no timestamp,
  so its JSON is about half the numbers of the same batch as points, and the server turns
  a series into rows without one Python object per point (docs/agent-protocol.md).

A batch with a ``timestamps`` key is a columns batch. Both formats are validated whole:
a fast validator accepts what is certainly valid (exact JSON types) and returns None for
anything else, which pydantic then judges, so every error has pydantic's message with the
path of the first bad field (``families.3.series.0.values.2: ...``).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, FiniteFloat, StringConstraints, ValidationError

from steward.api.errors import ApiError, first_validation_message
from steward.tsdb.types import MetricType

# The formats this server reads, advertised in the ``Steward-Metrics-Formats`` header of
# every 200 answer: an agent sends ``columns`` only to a server that said it reads them.
FORMATS = ("points", "columns")
FORMATS_HEADER = "Steward-Metrics-Formats"

MAX_POINTS = 10_000  # per series (points), and timestamps per batch (columns)
MAX_SERIES = 20_000  # per family
MAX_FAMILIES = 5_000

MetricName = Annotated[
    str, StringConstraints(pattern=r"^[a-zA-Z_:][a-zA-Z0-9_:]*$", max_length=200)
]
LabelName = Annotated[str, StringConstraints(pattern=r"^[a-zA-Z][a-zA-Z0-9_]*$", max_length=100)]
LabelValue = Annotated[str, StringConstraints(max_length=1024)]
StatName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
Timestamp = Annotated[int, Field(strict=True, ge=0)]
Labels = Annotated[dict[LabelName, LabelValue], Field(max_length=64)]
Unit = Annotated[str, StringConstraints(max_length=64)]
Help = Annotated[str, StringConstraints(max_length=1024)]
BatchId = Annotated[str, StringConstraints(min_length=1, max_length=100)]
# Columns values are JSON numbers, nothing pydantic would convert ("1.5", true).
StrictFiniteFloat = Annotated[float, Field(strict=True, allow_inf_nan=False)]
AgentStats = Annotated[
    dict[StatName, Annotated[float, Field(ge=0, allow_inf_nan=False)]], Field(max_length=32)
]


class SeriesIn(BaseModel):
    labels: Labels = Field(default_factory=dict)
    points: list[tuple[Timestamp, FiniteFloat]] = Field(min_length=1, max_length=MAX_POINTS)


class FamilyHead(BaseModel):
    """What both formats say of a family besides its series."""

    name: MetricName
    type: MetricType = MetricType.UNKNOWN
    unit: Unit = ""
    help: Help = ""


class FamilyIn(FamilyHead):
    series: list[SeriesIn] = Field(max_length=MAX_SERIES)


class BatchHead(BaseModel):
    """What both formats say of a batch besides its families."""

    batch_id: BatchId
    sent_at: datetime | None = None


class MetricsBatchIn(BatchHead):
    families: list[FamilyIn] = Field(max_length=MAX_FAMILIES)
    agent_stats: AgentStats = Field(default_factory=dict)


class ColumnSeriesIn(BaseModel):
    labels: Labels = Field(default_factory=dict)
    values: list[StrictFiniteFloat | None] = Field(min_length=1, max_length=MAX_POINTS)


class ColumnFamilyIn(FamilyHead):
    series: list[ColumnSeriesIn] = Field(max_length=MAX_SERIES)


class ColumnsBatchIn(BatchHead):
    timestamps: list[Timestamp] = Field(min_length=1, max_length=MAX_POINTS)
    families: list[ColumnFamilyIn] = Field(max_length=MAX_FAMILIES)
    agent_stats: AgentStats = Field(default_factory=dict)


# --- the validated batch ------------------------------------------------------------------

LabelItems = tuple[tuple[str, str], ...]
# Label sets already stored for a device, per family name: ``{name: {items: resolved}}``
# where ``items`` is ``tuple(labels.items())`` as the agent sent them and ``resolved`` is
# what the caller keeps for the series (agent.py: its id and stored labels). Only valid
# label sets get there, so one found there needs no second check.
Known = Mapping[str, Mapping[LabelItems, Any]]


@dataclass
class Family:
    """A family of a ``points`` batch: per series, its labels and (timestamp, value) pairs."""

    name: str
    type: MetricType
    unit: str
    help: str
    series: list[tuple[dict[str, str], list[tuple[int, float]]]]
    # Per series, what ``known`` held for its label set (None: not known), or None when
    # the batch was not parsed against a ``known`` (see ``parse_batch``).
    refs: list[Any] | None = field(default=None, compare=False)

    def columns(self) -> list[tuple[dict[str, str], tuple[int, ...], tuple[float, ...]]]:
        return [(labels, *zip(*points, strict=True)) for labels, points in self.series]  # type: ignore[misc]


@dataclass
class ColumnFamily:
    """A family of a ``columns`` batch: per series, its labels, timestamps and values
    (null values left out; a series without nulls shares the batch's timestamp list)."""

    name: str
    type: MetricType
    unit: str
    help: str
    series: list[tuple[dict[str, str], list[int], list[float]]]
    refs: list[Any] | None = field(default=None, compare=False)  # as ``Family.refs``

    def columns(self) -> list[tuple[dict[str, str], list[int], list[float]]]:
        return self.series


@dataclass
class Batch:
    """A validated batch as plain data (what the pydantic models hold, without models)."""

    batch_id: str
    sent_at: datetime | None
    families: list[Family] | list[ColumnFamily]
    agent_stats: dict[str, float]


# --- fast validation ------------------------------------------------------------------------

_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME = re.compile(r"[a-zA-Z][a-zA-Z0-9_]*")
_STAT_NAME = re.compile(r"[a-z][a-z0-9_]*")
# What the agent sends (datetime.isoformat() of an aware time); anything else goes to
# pydantic, whose parse of this form is the same datetime.
_SENT_AT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?(?:Z|[+-]\d\d:\d\d)")
_TYPES = {t.value: t for t in MetricType}
_MAX_INT = 2**63
_NONE = type(None)
_NUMBERS = frozenset({float, int, _NONE})


def _fast_points(points: Any) -> list[tuple[int, float]] | None:
    if type(points) is not list or not 1 <= len(points) <= MAX_POINTS:
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


def _fast_values(values: Any, timestamps: list[int]) -> tuple[list[int], list[float]] | None:
    """A columns series' (timestamps, values) without its nulls, or None."""
    if type(values) is not list or len(values) != len(timestamps):
        return None
    if len(values) == 1:
        # One round per batch (an agent's usual send): no set, no sum.
        value = values[0]
        kind = type(value)
        if kind is float:
            return (timestamps, values) if value - value == 0.0 else None
        if kind is int and -_MAX_INT <= value < _MAX_INT:
            return timestamps, [float(value)]
        return None  # null (every value null), or not a number: pydantic's error
    kinds = set(map(type, values))
    if kinds == {float}:
        # The usual case, checked by C loops: a sum of finite floats is finite unless it
        # overflows (then pydantic judges each value), and inf or nan anywhere makes it
        # inf or nan.
        total = sum(values)
        return (timestamps, values) if total - total == 0.0 else None
    if not kinds <= _NUMBERS:
        return None
    kept_ts: list[int] = []
    kept: list[float] = []
    for ts, value in zip(timestamps, values, strict=True):
        if value is None:
            continue
        if type(value) is int:
            if not -_MAX_INT <= value < _MAX_INT:
                return None
            value = float(value)
        elif value - value != 0.0:
            return None
        kept_ts.append(ts)
        kept.append(value)
    return (kept_ts, kept) if kept else None


def _fast_timestamps(timestamps: Any) -> list[int] | None:
    if type(timestamps) is not list or not 1 <= len(timestamps) <= MAX_POINTS:
        return None
    if set(map(type, timestamps)) != {int} or min(timestamps) < 0:
        return None
    return timestamps


def _fast_text(value: Any, limit: int) -> str | None:
    return value if type(value) is str and len(value) <= limit else None


def _known_labels(
    labels: Any, known: Mapping[LabelItems, Any] | None
) -> tuple[dict[str, str] | None, Any]:
    """``(labels, what known holds for them)``; ``(labels, None)`` once checked when not
    in ``known``; ``(None, None)`` when they need pydantic's judgement.

    A label set of the device's ``known`` series was valid when it was stored, and the
    rules do not change: one dict lookup replaces a regular expression per label name.
    """
    if type(labels) is not dict:
        return None, None
    if known:
        try:
            ref = known.get(tuple(labels.items()))
        except TypeError:  # an unhashable value (list, object): not a label set
            return None, None
        if ref is not None:
            return labels, ref
    if len(labels) > 64:
        return None, None
    return _checked_labels(labels), None


def _checked_labels(labels: dict[Any, Any]) -> dict[str, str] | None:
    for key, value in labels.items():
        if len(key) > 100 or not _LABEL_NAME.fullmatch(key) or type(value) is not str:
            return None
        if len(value) > 1024:
            return None
    return labels


def _fast_family_head(family: Any) -> tuple[str, MetricType, str, str, list[Any]] | None:
    if type(family) is not dict:
        return None
    name = family.get("name")
    if type(name) is not str or len(name) > 200 or not _METRIC_NAME.fullmatch(name):
        return None
    kind = _TYPES.get(family.get("type", "unknown"))  # type: ignore[arg-type]
    unit = _fast_text(family.get("unit", ""), 64)
    help_ = _fast_text(family.get("help", ""), 1024)
    series = family.get("series")
    if kind is None or unit is None or help_ is None:
        return None
    if type(series) is not list or len(series) > MAX_SERIES:
        return None
    return name, kind, unit, help_, series


def _fast_envelope(data: Any) -> tuple[str, datetime | None, list[Any], dict[str, float]] | None:
    """batch_id, sent_at, families (unchecked) and agent_stats of a batch of either format."""
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
    families = data.get("families")
    if type(families) is not list or len(families) > MAX_FAMILIES:
        return None
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
    return batch_id, sent_at, families, agent_stats


def fast_batch(data: Any, known: Known | None = None) -> Batch | None:
    """A ``points`` batch as a ``Batch`` when it is certainly valid, else None (let
    pydantic judge).

    Accepts a strict subset of what ``MetricsBatchIn`` does (exact JSON types, the
    agent's ``sent_at`` form), with the same values, so valid batches skip building
    ~600 model objects and every invalid one still gets pydantic's error path. With
    ``known``, each family's ``refs`` says what it holds for each series' label set.
    """
    envelope = _fast_envelope(data)
    if envelope is None:
        return None
    batch_id, sent_at, families_in, agent_stats = envelope
    families = []
    for family in families_in:
        head = _fast_family_head(family)
        if head is None:
            return None
        family_known = known.get(head[0]) if known else None
        series = []
        refs = []
        for item in head[4]:
            if type(item) is not dict:
                return None
            labels, ref = _known_labels(item.get("labels", {}), family_known)
            points = _fast_points(item.get("points"))
            if labels is None or points is None:
                return None
            series.append((labels, points))
            refs.append(ref)
        families.append(Family(*head[:4], series, refs if known is not None else None))
    return Batch(batch_id, sent_at, families, agent_stats)


def fast_columns_batch(data: Any, known: Known | None = None) -> Batch | None:
    """``fast_batch`` for a ``columns`` batch (``ColumnsBatchIn``)."""
    envelope = _fast_envelope(data)
    if envelope is None:
        return None
    batch_id, sent_at, families_in, agent_stats = envelope
    timestamps = _fast_timestamps(data.get("timestamps"))
    if timestamps is None:
        return None
    families = []
    for family in families_in:
        head = _fast_family_head(family)
        if head is None:
            return None
        family_known = known.get(head[0]) if known else None
        series = []
        refs = []
        for item in head[4]:
            if type(item) is not dict:
                return None
            labels, ref = _known_labels(item.get("labels", {}), family_known)
            if labels is None:
                return None
            values = item.get("values")
            # The usual series, inline: one finite float per timestamp.
            if (
                type(values) is list
                and len(values) == 1 == len(timestamps)
                and type(values[0]) is float
                and values[0] - values[0] == 0.0
            ):
                series.append((labels, timestamps, values))
            else:
                column = _fast_values(values, timestamps)
                if column is None:
                    return None
                series.append((labels, *column))
            refs.append(ref)
        families.append(
            ColumnFamily(*head[:4], series, refs if known is not None else None)  # type: ignore[arg-type]
        )
    return Batch(batch_id, sent_at, families, agent_stats)


# --- pydantic's judgement -------------------------------------------------------------------


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


def _from_columns_model(model: ColumnsBatchIn) -> Batch:
    """The model as a ``Batch``; 422 for what the schema cannot say (alignment)."""
    timestamps = model.timestamps
    families = []
    for i, f in enumerate(model.families):
        series = []
        for j, s in enumerate(f.series):
            where = f"families.{i}.series.{j}.values"
            if len(s.values) != len(timestamps):
                raise ApiError(
                    422,
                    "invalid_request",
                    f"{where}: {len(s.values)} values for {len(timestamps)} timestamps "
                    "(one value or null per timestamp)",
                )
            pairs = [
                (ts, float(v)) for ts, v in zip(timestamps, s.values, strict=True) if v is not None
            ]
            if not pairs:
                raise ApiError(422, "invalid_request", f"{where}: every value is null")
            series.append((dict(s.labels), [ts for ts, _ in pairs], [v for _, v in pairs]))
        families.append(ColumnFamily(f.name, f.type, f.unit, f.help, series))
    return Batch(model.batch_id, model.sent_at, families, dict(model.agent_stats))


def _validated(data: Any) -> Batch:
    try:
        if isinstance(data, dict) and "timestamps" in data:
            return _from_columns_model(ColumnsBatchIn.model_validate(data))
        return _from_model(MetricsBatchIn.model_validate(data))
    except ValidationError as exc:
        errors = [
            # A dict key's error ends its path with "[key]": the key itself says it.
            {**e, "loc": [part for part in e["loc"] if part != "[key]"]}
            for e in exc.errors(include_url=False)
        ]
        raise ApiError(422, "invalid_request", first_validation_message(errors)) from None


def parse_batch(raw: bytes, known: Known | None = None) -> Batch:
    """The batch in ``raw`` (JSON, either format), or ``ApiError`` 422 naming the first error.

    ``known``: the label sets the caller has stored for this sender (see ``Known``); the
    fast validator looks each series up there, and says what it found in the families'
    ``refs`` (``refs`` is None when pydantic had to judge the batch).
    """
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(422, "invalid_request", f"the body is not valid JSON: {exc}") from None
    columns = isinstance(data, dict) and "timestamps" in data
    fast = fast_columns_batch(data, known) if columns else fast_batch(data, known)
    return fast if fast is not None else _validated(data)
