"""Decoded chunks, kept in memory and keyed by the chunk's stored bytes.

Decoding (``codec.decode_many``) was ~200 ms of ``bench/query.py``'s 1,000-host fleet
query (16,000 chunks): LZ4, then the planes and sums of each layout group. A dashboard
asks the same question again and again, and the chunks it reads hardly ever change (a
closed hour never does; the hour being filled is rewritten by each compaction step).

Why a hit can never be stale: decoding is a pure function of the blob's bytes, and the
key *is* those bytes (a ``dict`` hashes them in C and compares them in full on a hit).
A chunk rewritten by compaction, a corrupted one, a chunk of another store or of
another series with different samples: different bytes, another key. Two chunks with
the very same bytes decode to the very same samples, whichever series or store they
belong to, so one cache per process serves every store and needs no invalidation, no
generation, no hook in the write path. Entries are only ever dropped to make room.

Bound: ``max_bytes`` of decoded arrays plus the keys (~16 bytes a raw sample, 48 a
rollup bucket, each blob's own bytes and ~250 bytes of Python objects per entry);
least recently used first out, but never an entry the same call uses: a query reading
more than the bound keeps a stable part of its chunks cached instead of evicting each as
it goes. ``configure(0)`` turns it off (every call decodes).
Thread-safe: cached arrays are read-only and the bookkeeping is under a lock; decoding
runs outside it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from steward.tsdb import codec
from steward.tsdb.codec import Float64Array, Int64Array

DEFAULT_MAX_BYTES = 64 * 2**20
# Per entry beyond the arrays' data: the key's bytes object header, the arrays' headers,
# the tuple and the dict slot (measured ~230-300 bytes on CPython 3.12).
ENTRY_OVERHEAD = 256

Piece = tuple[Int64Array, tuple[Float64Array, ...]]  # one chunk's (timestamps, columns)


@dataclass
class ChunkCacheStats:
    """Counters (chunks), for tests and benchmarks."""

    hits: int = 0
    misses: int = 0  # decoded (then kept, room permitting)
    evictions: int = 0


def _entry_bytes(blob: bytes, ts: Int64Array, cols: Sequence[Float64Array]) -> int:
    return len(blob) + ts.nbytes + sum(c.nbytes for c in cols) + ENTRY_OVERHEAD


def _frozen(a: np.ndarray) -> np.ndarray:
    """A private read-only copy: a cached piece is shared by every later reader, and a
    copy (not a view of the batch) lets the batch's arrays go when pieces are evicted."""
    out = np.array(a, copy=True)
    out.flags.writeable = False
    return out


class DecodedChunks:
    """blob bytes -> (timestamps, columns), LRU-bounded; see the module's docstring."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self.stats = ChunkCacheStats()
        self._lock = threading.Lock()
        self._entries: OrderedDict[bytes, tuple[Piece, int]] = OrderedDict()
        self._bytes = 0

    @property
    def nbytes(self) -> int:
        """Memory held: decoded arrays, keys and per-entry overhead (estimated)."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def resize(self, max_bytes: int) -> None:
        with self._lock:
            self.max_bytes = max_bytes
            self._shrink(max_bytes)

    def decode_many(self, blobs: Sequence[bytes]) -> codec.Decoded:
        """``codec.decode_many(blobs)``, the same arrays bit for bit, cached chunks not
        decoded again. The result is freshly allocated (callers may keep or slice it)."""
        if self.max_bytes <= 0 or not blobs:
            return codec.decode_many(blobs)
        found, touched = self._lookup(blobs)
        missing = [i for i, got in enumerate(found) if got is None]
        if missing:
            self._decode_into(blobs, missing, found, touched)
        return _assemble(found)  # type: ignore[arg-type]

    def _lookup(self, blobs: Sequence[bytes]) -> tuple[list[Piece | None], int]:
        """The cached pieces (None where missing), marked most recently used, and the
        bytes of those entries."""
        touched = 0
        with self._lock:
            entries = self._entries
            get, touch = entries.get, entries.move_to_end
            found: list[Piece | None] = []
            append = found.append
            for blob in blobs:
                got = get(blob)
                if got is None:
                    append(None)
                else:
                    touch(blob)
                    append(got[0])
                    touched += got[1]
            self.stats.hits += len(found) - found.count(None)
        return found, touched

    def _decode_into(
        self, blobs: Sequence[bytes], missing: list[int], found: list[Piece | None], touched: int
    ) -> None:
        """Decode the missing chunks in one batch (raises ``ChunkError`` as
        ``codec.decode_many`` does, caching nothing), then keep those that fit beside
        the entries this call uses (``touched`` bytes so far).

        Scan resistance: a query whose chunks exceed the bound must not evict its own
        chunks as it goes (plain LRU would then miss every chunk of every repeat); the
        chunks beyond the room are decoded and not kept, so a stable part is served."""
        todo = [blobs[i] for i in missing]
        ts, cols, sizes = codec.decode_many(todo)
        ends = np.cumsum(sizes).tolist()
        start = 0
        fresh: list[tuple[bytes, Piece, int]] = []
        for i, blob, end in zip(missing, todo, ends, strict=True):
            piece = (ts[start:end], tuple(c[start:end] for c in cols))
            size = _entry_bytes(blob, *piece)
            if touched + size <= self.max_bytes:
                piece = (_frozen(piece[0]), tuple(_frozen(c) for c in piece[1]))
                fresh.append((blob, piece, size))
                touched += size
            # else: used by this call only
            found[i] = piece
            start = end
        with self._lock:
            self.stats.misses += len(missing)
            for blob, piece, size in fresh:
                if blob in self._entries:
                    continue
                self._entries[blob] = (piece, size)
                self._bytes += size
            self._shrink(self.max_bytes)

    def _shrink(self, limit: int) -> None:
        while self._bytes > limit and self._entries:
            _, (_, size) = self._entries.popitem(last=False)
            self._bytes -= size
            self.stats.evictions += 1


def _assemble(pieces: list[Piece]) -> codec.Decoded:
    """The pieces concatenated in order, as ``codec.decode_many`` returns them: one
    ``np.concatenate`` per column for the whole query, not one per chunk."""
    width = len(pieces[0][1])
    if any(len(p[1]) != width for p in pieces):  # as codec.decode_many refuses them
        raise codec.ChunkError("chunks of different column counts cannot be decoded together")
    sizes = np.fromiter((len(p[0]) for p in pieces), dtype=np.int64, count=len(pieces))
    ts = np.concatenate([p[0] for p in pieces])
    cols = [np.concatenate([p[1][j] for p in pieces]) for j in range(width)]
    return ts, cols, sizes


_shared = DecodedChunks()


def shared() -> DecodedChunks:
    """The process's cache (every store shares it: the key is the content)."""
    return _shared


def configure(max_bytes: int) -> DecodedChunks:
    """Set the shared cache's bound (0 turns it off and frees it)."""
    _shared.resize(max_bytes)
    return _shared
