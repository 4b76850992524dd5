"""The anomaly-rate window of one series: samples scored and flagged per 10 minutes.

Six buckets cover the last hour, so "the share of samples flagged in the last hour"
(Netdata's anomaly rate) is exact to one bucket (the oldest may be partly out of the
hour) and costs 56 bytes per series, packed into ``DetectorState.window``.
"""

from __future__ import annotations

import struct

from steward.tsdb.types import HOUR_MS, MINUTE_MS

BUCKET_MS = 10 * MINUTE_MS
BUCKETS = HOUR_MS // BUCKET_MS
_PACK = struct.Struct(f"<q{2 * BUCKETS}I")
_COUNT_MAX = 0xFFFFFFFF


class Window:
    """Counts per bucket; index 0 is the bucket starting at ``start_ms`` (the newest)."""

    __slots__ = ("flagged", "scored", "start_ms")

    def __init__(self) -> None:
        self.start_ms = 0
        self.scored = [0] * BUCKETS
        self.flagged = [0] * BUCKETS

    def add(self, ts_ms: int, flagged: bool) -> None:
        bucket = ts_ms - ts_ms % BUCKET_MS
        if bucket > self.start_ms:
            shift = (bucket - self.start_ms) // BUCKET_MS
            if shift >= BUCKETS:
                self.scored = [0] * BUCKETS
                self.flagged = [0] * BUCKETS
            else:
                self.scored = [0] * shift + self.scored[: BUCKETS - shift]
                self.flagged = [0] * shift + self.flagged[: BUCKETS - shift]
            self.start_ms = bucket
        i = (self.start_ms - bucket) // BUCKET_MS
        if i < BUCKETS:
            self.scored[i] += 1
            if flagged:
                self.flagged[i] += 1

    def totals(self, now_ms: int) -> tuple[int, int]:
        """(scored, flagged) in the buckets that overlap the hour before ``now_ms``."""
        scored = flagged = 0
        for i in range(BUCKETS):
            if self.start_ms - i * BUCKET_MS + BUCKET_MS > now_ms - HOUR_MS:
                scored += self.scored[i]
                flagged += self.flagged[i]
        return scored, flagged

    def to_bytes(self) -> bytes:
        scored, flagged = self.scored, self.flagged
        if max(scored) > _COUNT_MAX or max(flagged) > _COUNT_MAX:
            scored = [min(v, _COUNT_MAX) for v in scored]
            flagged = [min(v, _COUNT_MAX) for v in flagged]
        return _PACK.pack(self.start_ms, *scored, *flagged)

    @classmethod
    def from_bytes(cls, blob: bytes | memoryview | None) -> Window:
        if not blob or len(blob) != _PACK.size:
            return cls()
        # filled in without __init__'s empty lists: this runs per series per scoring run
        window = cls.__new__(cls)
        fields = _PACK.unpack(blob)
        window.start_ms = fields[0]
        window.scored = list(fields[1 : 1 + BUCKETS])
        window.flagged = list(fields[1 + BUCKETS :])
        return window
