"""The chunk codec: a compact, lossless encoding of a run of (timestamp, values...) rows.

A chunk holds ``n`` rows of one series: int64 millisecond timestamps in increasing order
and ``k`` float64 columns (k = 1 for raw samples; 5 for rollup buckets: min, max, sum,
count, last). Layout, before zlib::

    u8 version | u8 k | u32 n | i64 ts0
    ts section:   n-1 int64 delta-of-deltas (first entry: the first delta), zigzagged
    k columns:    u8 mode | u8 decimals | n 8-byte words

Every 8-byte array is *byte-shuffled* (all first bytes, then all second bytes, ...), the
trick of Blosc/HDF5's shuffle filter: regular data has long runs of equal high bytes,
which zlib then squeezes to almost nothing. Column modes:

- ``MODE_DEC``: every value is ``m / 10**d`` exactly for an integer ``|m| < 2**53`` and a
  small ``d`` (0-6): byte and packet counters and memory sizes (d = 0), CPU seconds and
  load averages as the kernel reports them (d = 2). Stored as zigzagged deltas of ``m``,
  so a counter that grows by a few thousand per sample costs 2-3 bytes before zlib,
  where XOR would cost 6-8 (the decimal idea is VictoriaMetrics'). The encoder checks
  that ``m / 10**d`` gives back the very same float64 before choosing this mode.
- ``MODE_XOR``: anything else (NaN, fractions): the float64 bit pattern XOR the previous
  one, as in Gorilla (Pelkonen et al., VLDB 2015): equal values give zero words and close
  values share their sign, exponent and top mantissa bits.

Both are exact: decoding returns the same bits (NaN payloads and -0.0 included).
"""

from __future__ import annotations

import struct
import zlib

import numpy as np
import numpy.typing as npt

VERSION = 1
MODE_XOR = 0
MODE_DEC = 1
MAX_DECIMALS = 6
_HEADER = struct.Struct("<BBIq")
_INT_LIMIT = float(2**53)
ZLIB_LEVEL = 6

Int64Array = npt.NDArray[np.int64]
Float64Array = npt.NDArray[np.float64]


class ChunkError(ValueError):
    """A stored chunk cannot be decoded (corrupt or from a newer version)."""


def _shuffle(words: npt.NDArray[np.uint64]) -> bytes:
    return words.view(np.uint8).reshape(-1, 8).T.tobytes()


def _unshuffle(buf: bytes, n: int) -> npt.NDArray[np.uint64]:
    planes = np.frombuffer(buf, dtype=np.uint8, count=8 * n).reshape(8, n)
    return np.ascontiguousarray(planes.T).view(np.uint64).reshape(n)


def _zigzag(x: Int64Array) -> npt.NDArray[np.uint64]:
    return ((x << 1) ^ (x >> 63)).view(np.uint64)


def _unzigzag(u: npt.NDArray[np.uint64]) -> Int64Array:
    return ((u >> np.uint64(1)) ^ (np.uint64(0) - (u & np.uint64(1)))).view(np.int64)


def _decimal_scale(values: Float64Array) -> int | None:
    """The smallest d with values == round(values * 10**d) / 10**d exactly, if any."""
    if not len(values) or not np.all(np.isfinite(values)):
        return None
    if np.any((values == 0) & np.signbit(values)):  # -0.0 would come back as 0.0
        return None
    for d in range(MAX_DECIMALS + 1):
        scale = 10.0**d
        mantissas = np.round(values * scale)
        if np.any(np.abs(mantissas) >= _INT_LIMIT):
            return None
        if np.array_equal(mantissas / scale, values):
            return d
    return None


def _encode_column(values: Float64Array) -> bytes:
    d = _decimal_scale(values)
    if d is not None:
        ints = np.round(values * 10.0**d).astype(np.int64)
        deltas = np.diff(ints, prepend=np.int64(0))
        return bytes([MODE_DEC, d]) + _shuffle(_zigzag(deltas))
    bits = values.view(np.uint64)
    xored = bits ^ np.concatenate(([np.uint64(0)], bits[:-1]))
    return bytes([MODE_XOR, 0]) + _shuffle(xored)


def _decode_column(buf: bytes, n: int) -> Float64Array:
    mode, d = buf[0], buf[1]
    words = _unshuffle(buf[2:], n)
    if mode == MODE_DEC:
        return np.cumsum(_unzigzag(words)).astype(np.float64) / 10.0**d
    if mode == MODE_XOR:
        return np.bitwise_xor.accumulate(words).view(np.float64)
    raise ChunkError(f"unknown column mode {mode}")


def encode(timestamps: Int64Array, columns: list[Float64Array]) -> bytes:
    """Encode rows sorted by timestamp (unique); ``columns`` all have len(timestamps)."""
    ts = np.asarray(timestamps, dtype=np.int64)
    n = len(ts)
    parts = [_HEADER.pack(VERSION, len(columns), n, int(ts[0]) if n else 0)]
    if n > 1:
        dod = np.diff(ts, n=1)
        dod[1:] = np.diff(dod)
        parts.append(_shuffle(_zigzag(dod)))
    for col in columns:
        parts.append(_encode_column(np.ascontiguousarray(col, dtype=np.float64)))
    return zlib.compress(b"".join(parts), ZLIB_LEVEL)


def decode(blob: bytes) -> tuple[Int64Array, list[Float64Array]]:
    """Inverse of :func:`encode`."""
    try:
        buf = zlib.decompress(blob)
    except zlib.error as exc:
        raise ChunkError(f"corrupt chunk: {exc}") from exc
    version, k, n, ts0 = _HEADER.unpack_from(buf)
    if version != VERSION:
        raise ChunkError(f"chunk version {version} is not supported")
    pos = _HEADER.size
    if n > 1:
        dod = _unzigzag(_unshuffle(buf[pos : pos + 8 * (n - 1)], n - 1))
        pos += 8 * (n - 1)
        ts = np.empty(n, dtype=np.int64)
        ts[0] = ts0
        np.cumsum(np.cumsum(dod), out=ts[1:])
        ts[1:] += ts0
    else:
        ts = np.full(n, ts0, dtype=np.int64)
    columns = []
    for _ in range(k):
        columns.append(_decode_column(buf[pos : pos + 2 + 8 * n], n))
        pos += 2 + 8 * n
    return ts, columns


def decode_timestamps(blob: bytes) -> Int64Array:
    """Only the timestamps (the duplicate check of late samples needs no values)."""
    return decode(blob)[0]
