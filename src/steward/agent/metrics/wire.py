"""A spooled batch as the bytes of one ``POST /api/v1/agent/metrics`` (docs/agent-protocol.md).

Batches are spooled in the ``points`` format (each series' ``[timestamp_ms, value]``
pairs), which every server reads. A server that also reads ``columns`` says so in the
``Steward-Metrics-Formats`` header of its 200 answers; to it, a batch goes as its rounds'
timestamps once plus one value list per series (``null`` where a round has no sample):
about half the JSON numbers of a 10-round batch, and a server path without a Python object
per point. The conversion happens at send time, so the spool, its replay and its tools
stay one format whatever the server says.
"""

from __future__ import annotations

import gzip
from collections.abc import Mapping
from typing import Any, Final

from steward.agent.protocol import encode_body

POINTS: Final = "points"
COLUMNS: Final = "columns"
FORMATS_HEADER: Final = "Steward-Metrics-Formats"
# The server's limits for a columns batch: timestamps per batch, values per series.
MAX_TIMESTAMPS: Final = 10_000
COMPRESS_LEVEL: Final = 6


def server_formats(header: str | None) -> frozenset[str]:
    """The formats named in a ``Steward-Metrics-Formats`` value (none: points only)."""
    if not header:
        return frozenset()
    return frozenset(part.strip().lower() for part in header.split(",") if part.strip())


def to_columns(families: list[dict[str, Any]]) -> tuple[list[int], list[dict[str, Any]]] | None:
    """(timestamps, families) of a points batch in the columns format, or None when it
    cannot be said exactly in columns (a value that is not a number, too many distinct
    timestamps): then the batch goes as points, for the server to judge."""
    stamps: set[int] = set()
    for family in families:
        for series in family["series"]:
            for point in series["points"]:
                ts = point[0]
                if type(ts) is not int:
                    return None
                stamps.add(ts)
    if not stamps or len(stamps) > MAX_TIMESTAMPS:
        return None
    timestamps = sorted(stamps)
    index = {ts: i for i, ts in enumerate(timestamps)}
    out = []
    for family in families:
        series_out = []
        for series in family["series"]:
            values: list[float | None] = [None] * len(timestamps)
            for ts, value in series["points"]:
                if type(value) not in (int, float):
                    return None
                i = index[ts]
                if values[i] is None:  # two points at one time: the first, as the store keeps
                    values[i] = float(value)
            series_out.append({"labels": series["labels"], "values": values})
        out.append({**{k: v for k, v in family.items() if k != "series"}, "series": series_out})
    return timestamps, out


def encode_batch(
    payload: Mapping[str, Any], sent_at: str, agent_stats: Mapping[str, Any], columns: bool
) -> tuple[bytes, bool]:
    """The gzip'd request body of a spooled batch, and whether it is in columns."""
    body: dict[str, Any] = {"batch_id": payload["batch_id"], "sent_at": sent_at}
    converted = to_columns(payload["families"]) if columns else None
    if converted is not None:
        body["timestamps"], body["families"] = converted
    else:
        body["families"] = payload["families"]
    body["agent_stats"] = dict(agent_stats)
    return gzip.compress(encode_body(body), COMPRESS_LEVEL, mtime=0), converted is not None
