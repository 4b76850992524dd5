"""The chunk codec: a compact, lossless encoding of a run of (timestamp, values...) rows.

A chunk holds ``n`` rows of one series: int64 millisecond timestamps in increasing order
and ``k`` float64 columns (k = 1 for raw samples; 5 for rollup buckets: min, max, sum,
count, last). Layout (versions 2 and 3), before compression::

    u8 version | u8 k | u32 n | i64 ts0
    ts section:   the n-1 delta-of-deltas (first entry: the first delta), zigzagged,
                  packed (n >= 2)
    k columns:    u8 mode | u8 decimals | the n words of the column, packed (n >= 1)
    packed words: u64 first word | u8 mask | byte planes of the other words (if any)

Words after the first are *byte-shuffled* (all first bytes, then all second bytes, ...),
the trick of Blosc/HDF5's shuffle filter, and a plane whose bytes are all zero is left
out (bit b of the mask set: plane b is stored). Regular data has few planes: evenly
spaced timestamps none at all, a counter's deltas one to three. Version 1 stored all
8 planes of every word (the first included) and left the zeros to zlib, which squeezed
them well but spent its decoding time re-creating them; it is still decoded.

Compression. Versions 1 and 2 are zlib streams of the layout. Version 3 (the encoder's)
is the byte 3, then an LZ4 block (``cramjam.lz4``, the u32 size of the layout first) of
the layout with version byte 3. After the shuffle and the dropped planes little is left
for zlib to find in hour chunks of 360 samples (nothing in random-looking values, 16 %
in decimal counters, a third in slow gauges and jittered timestamps), but its Huffman
decoding took 6-20 µs a chunk, ~130 ms of bench/query.py's 1,000-host fleet query. LZ4
decodes one in ~0.4 µs (the fleet query: 528 -> 394 ms CPU) for chunks 0-5 % larger,
19 % for decimal counters, half again for slow gauges (263 -> 398 bytes); 4 % over the
bench's compacted store. zstd (cramjam) was no smaller than zlib and still took 4-9 µs
a call. A zlib stream's first byte has 8 in its low nibble (CM), so the leading 3 cannot
be mistaken for one.

Column modes:

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
from collections.abc import Sequence
from typing import NamedTuple

import cramjam
import numpy as np
import numpy.typing as npt

VERSION = 3
READABLE = (1, 2, 3)  # versions decode() accepts
MODE_XOR = 0
MODE_DEC = 1
MAX_DECIMALS = 6
_HEADER = struct.Struct("<BBIq")
_INT_LIMIT = float(2**53)
_LZ4_SIZE = struct.Struct("<I")
# LZ4 cannot expand more than ~255 times: a larger stated size is corruption, refused
# before cramjam allocates it.
_LZ4_MAX_RATIO = 255

Int64Array = npt.NDArray[np.int64]
Float64Array = npt.NDArray[np.float64]
# What decode_many returns: timestamps, columns, rows per chunk.
Decoded = tuple[Int64Array, list[Float64Array], Int64Array]


class ChunkError(ValueError):
    """A stored chunk cannot be decoded (corrupt or from a newer version)."""


def _zigzag(x: Int64Array) -> npt.NDArray[np.uint64]:
    return ((x << 1) ^ (x >> 63)).view(np.uint64)


def _unzigzag(u: npt.NDArray[np.uint64]) -> Int64Array:
    # (u >> 1) ^ -(u & 1), with two temporaries instead of four (decoding is memory-bound).
    out = u >> np.uint64(1)
    sign = (u & np.uint64(1)).view(np.int64)
    np.negative(sign, out=sign)
    out ^= sign.view(np.uint64)
    return out.view(np.int64)


def encode(timestamps: Int64Array, columns: list[Float64Array]) -> bytes:
    """Encode rows sorted by timestamp (unique); ``columns`` all have len(timestamps)."""
    return encode_many(timestamps, columns, np.array([len(timestamps)], dtype=np.int64))[0]


def _pack_rows(words: npt.NDArray[np.uint64]) -> list[bytes]:
    """Each row of an (m, c) array packed: its first word, then the mask and the non-zero
    byte planes of the others (a plane is stored if any word of the row uses it). The
    planes of all rows are found together and rows with the same mask are cut out of one
    copy."""
    m, c = words.shape
    if c == 0:
        return [b""] * m
    firsts = np.ascontiguousarray(words[:, 0]).tobytes()
    if c == 1:
        return [firsts[8 * i : 8 * i + 8] for i in range(m)]
    planes = np.ascontiguousarray(words[:, 1:]).view(np.uint8).reshape(m, c - 1, 8)
    used = planes.any(axis=1)  # (m, 8): plane b of row i is stored
    masks = used.astype(np.int64) @ (1 << np.arange(8, dtype=np.int64))
    out: list[bytes] = [b""] * m
    for mask in np.unique(masks).tolist():
        members = np.flatnonzero(masks == mask)
        bits = [b for b in range(8) if mask >> b & 1]
        body = np.ascontiguousarray(planes[members][:, :, bits].transpose(0, 2, 1)).tobytes()
        size = len(bits) * (c - 1)
        head = bytes([mask])
        for j, i in enumerate(members.tolist()):
            out[i] = firsts[8 * i : 8 * i + 8] + head + body[j * size : (j + 1) * size]
    return out


def _decimal_scales(values: Float64Array) -> npt.NDArray[np.int64]:
    """Per row of an (m, n) array (n >= 1): the smallest d with values == round(values *
    10**d) / 10**d exactly, or -1 (not finite, -0.0 which would come back as 0.0, or a
    mantissa beyond 2**53)."""
    m = values.shape[0]
    out = np.full(m, -1, dtype=np.int64)
    open_ = np.all(np.isfinite(values), axis=1)
    open_ &= ~np.any((values == 0) & np.signbit(values), axis=1)
    for d in range(MAX_DECIMALS + 1):
        rows = np.flatnonzero(open_)
        if not len(rows):
            break
        scale = 10.0**d
        block = values[rows]
        mantissas = np.round(block * scale)
        over = np.any(np.abs(mantissas) >= _INT_LIMIT, axis=1)
        exact = ~over & np.all(mantissas / scale == block, axis=1)
        out[rows[exact]] = d
        open_[rows[over | exact]] = False
    return out


def _encode_columns(values: Float64Array) -> list[bytes]:
    """Every row of an (m, n) array (n >= 1) as a column: mode byte, decimals, packed
    words (zigzag deltas of the mantissas in decimal mode, XOR of the float bits else)."""
    scales = _decimal_scales(values)
    words = np.empty(values.shape, dtype=np.uint64)
    is_dec = scales >= 0
    if is_dec.any():
        factor = np.array([10.0**d for d in range(MAX_DECIMALS + 1)])[scales[is_dec]]
        ints = np.round(values[is_dec] * factor[:, None]).astype(np.int64)
        words[is_dec] = _zigzag(np.diff(ints, axis=1, prepend=np.int64(0)))
    if not is_dec.all():
        bits = np.ascontiguousarray(values[~is_dec]).view(np.uint64)
        xored = bits.copy()
        xored[:, 1:] ^= bits[:, :-1]
        words[~is_dec] = xored
    heads = [bytes([MODE_DEC, d]) if d >= 0 else bytes([MODE_XOR, 0]) for d in scales.tolist()]
    return [h + p for h, p in zip(heads, _pack_rows(words), strict=True)]


def encode_many(
    timestamps: Int64Array, columns: Sequence[Float64Array], sizes: Int64Array
) -> list[bytes]:
    """Encode many chunks at once (``encode`` is this for one chunk).

    The rows of chunk ``i`` are the next ``sizes[i]`` of the flat arrays. Compaction
    every few minutes re-encodes the hour chunk of every series; one at a time that was
    ~200 µs of numpy call overhead per series and run, so chunks of equal length are
    encoded together as the rows of one 2-D array (only the final assembly and the LZ4
    call are per chunk).
    """
    ts_all = np.asarray(timestamps, dtype=np.int64)
    cols_all = [np.asarray(c, dtype=np.float64) for c in columns]
    sizes = np.asarray(sizes, dtype=np.int64)
    offsets = np.zeros(len(sizes), dtype=np.int64)
    np.cumsum(sizes[:-1], out=offsets[1:])
    out: list[bytes] = [b""] * len(sizes)
    k = len(cols_all)
    for n in np.unique(sizes).tolist():
        members = np.flatnonzero(sizes == n)
        if n == 0:  # the header and each column's mode, nothing packed
            empty = _HEADER.pack(VERSION, k, 0, 0) + bytes([MODE_XOR, 0]) * k
            for i in members.tolist():
                out[i] = bytes([VERSION]) + bytes(cramjam.lz4.compress_block(empty))
            continue
        where = offsets[members][:, None] + np.arange(n)
        ts = ts_all[where]
        parts: list[list[bytes]] = [[_HEADER.pack(VERSION, k, n, t0)] for t0 in ts[:, 0].tolist()]
        if n > 1:
            dod = np.diff(ts, axis=1)
            dod[:, 1:] = np.diff(dod, axis=1)
            for p, packed in zip(parts, _pack_rows(_zigzag(dod)), strict=True):
                p.append(packed)
        for col in cols_all:
            for p, packed in zip(parts, _encode_columns(col[where]), strict=True):
                p.append(packed)
        compress = cramjam.lz4.compress_block
        for i, p in zip(members.tolist(), parts, strict=True):
            out[i] = bytes([VERSION]) + bytes(compress(b"".join(p)))
    return out


def _decompress(blob: bytes) -> bytes:
    """The layout of a stored chunk, whichever compression its version used."""
    if blob[:1] == b"\x03":
        if len(blob) < 1 + _LZ4_SIZE.size:
            raise ChunkError("truncated chunk: no LZ4 size")
        (size,) = _LZ4_SIZE.unpack_from(blob, 1)
        if size > _LZ4_MAX_RATIO * len(blob) + 64:
            raise ChunkError(f"corrupt chunk: {len(blob)} bytes cannot hold {size}")
        try:
            buf = bytes(cramjam.lz4.decompress_block(memoryview(blob)[1:]))
        except cramjam.DecompressionError as exc:
            raise ChunkError(f"corrupt chunk: {exc}") from exc
        if len(buf) != size:  # cramjam takes the size as a bound, not a promise
            raise ChunkError(f"corrupt chunk: {len(buf)} bytes where {size} were stated")
        if buf[:1] != b"\x03":
            raise ChunkError(f"chunk of version 3 holds version {buf[0] if buf else None}")
        return buf
    try:
        buf = zlib.decompress(blob)
    except zlib.error as exc:
        raise ChunkError(f"corrupt chunk: {exc}") from exc
    if buf[:1] == b"\x03":  # version 3 is never zlib'd
        raise ChunkError("chunk version 3 in a zlib stream is not supported")
    return buf


def decode(blob: bytes) -> tuple[Int64Array, list[Float64Array]]:
    """Inverse of :func:`encode` (and of version 1's encoder)."""
    ts, columns, _ = decode_many([blob])
    return ts, columns


class _Layout(NamedTuple):
    """Where everything sits in a decompressed chunk: chunks of equal layout are decoded
    together, as the rows of one 2-D array."""

    version: int  # 1, or 2 for the layout of versions 2 and 3 (decoded together)
    n: int
    k: int
    length: int
    ts_mask: int  # version 2: the planes stored of the ts section
    masks: tuple[int, ...]  # version 2: the planes stored of each column


def _layout(buf: bytes) -> _Layout:
    try:
        version, k, n, _ = _HEADER.unpack_from(buf)
        if version == 1:
            if len(buf) != _HEADER.size + 8 * max(n - 1, 0) + k * (2 + 8 * n):
                raise ChunkError(f"chunk of {n} rows has {len(buf)} bytes")
            return _Layout(1, n, k, len(buf), 0, ())
        if version not in (2, 3):
            raise ChunkError(f"chunk version {version} is not supported")
        pos = _HEADER.size
        ts_mask = 0
        if n >= 2:  # n - 1 delta-of-deltas: the first, then (n >= 3) mask and planes
            pos += 8
        if n >= 3:
            ts_mask = buf[pos]
            pos += 1 + ts_mask.bit_count() * (n - 2)
        masks = []
        for _ in range(k):
            pos += 2 + (8 if n else 0)
            mask = 0
            if n >= 2:
                mask = buf[pos]
                pos += 1 + mask.bit_count() * (n - 1)
            masks.append(mask)
    except (IndexError, struct.error) as exc:
        raise ChunkError(f"truncated chunk: {exc}") from exc
    if pos != len(buf):
        raise ChunkError(f"chunk of {n} rows has {len(buf)} bytes, its layout {pos}")
    return _Layout(2, n, k, len(buf), ts_mask, tuple(masks))


def _unshuffle_rows(planes: npt.NDArray[np.uint8], n: int) -> npt.NDArray[np.uint64]:
    """Version 1: n words from all 8 of their byte planes, a chunk a row: (m, n)."""
    m = planes.shape[0]
    words = np.ascontiguousarray(planes.reshape(m, 8, n).transpose(0, 2, 1))
    return words.view(np.uint64).reshape(m, n)


def _unpack_rows(
    rows: npt.NDArray[np.uint8], pos: int, count: int, mask: int
) -> tuple[npt.NDArray[np.uint64], int]:
    """Version 2: ``count`` packed words at ``pos`` of every row -> (m, count), next pos."""
    m = rows.shape[0]
    words = np.zeros((m, count, 8), dtype=np.uint8)
    words[:, 0, :] = rows[:, pos : pos + 8]
    pos += 8
    if count >= 2:
        pos += 1  # the mask, the same for the whole group
        for b in range(8):
            if mask >> b & 1:
                words[:, 1:, b] = rows[:, pos : pos + count - 1]
                pos += count - 1
    return words.view(np.uint64).reshape(m, count), pos


def _timestamps(ts0: Int64Array, dod: npt.NDArray[np.uint64] | None, n: int) -> Int64Array:
    """Timestamps from the zigzagged delta-of-deltas of each row, (m, n - 1)."""
    m = len(ts0)
    ts = np.empty((m, n), dtype=np.int64)
    ts[:, 0] = ts0
    if n > 1 and dod is not None:
        np.cumsum(np.cumsum(_unzigzag(dod), axis=1), axis=1, out=ts[:, 1:])
        ts[:, 1:] += ts0[:, None]
    return ts


def _values(
    words: npt.NDArray[np.uint64], mode: npt.NDArray[np.uint8], dec: npt.NDArray[np.uint8]
) -> Float64Array:
    """A column of each row from its words, by the row's mode: (m, n) float64.

    The arithmetic of the one-chunk decoder element for element (cumulative sums run
    along each row), so the values are bit-identical whatever the batch.
    """
    out = np.empty(words.shape, dtype=np.float64)
    is_dec = mode == MODE_DEC
    is_xor = mode == MODE_XOR
    if not bool(np.all(is_dec | is_xor)):
        raise ChunkError(f"unknown column mode {int(mode[~(is_dec | is_xor)][0])}")
    if is_dec.any():
        scale = 10.0 ** dec[is_dec].astype(np.float64)
        ints = np.cumsum(_unzigzag(words[is_dec]), axis=1)
        out[is_dec] = ints.astype(np.float64) / scale[:, None]
    if is_xor.any():
        out[is_xor] = np.bitwise_xor.accumulate(words[is_xor], axis=1).view(np.float64)
    return out


def _decode_group_v1(
    rows: npt.NDArray[np.uint8], n: int, k: int
) -> tuple[Int64Array, list[Float64Array]]:
    ts0 = rows[:, 6:14].copy().view(np.int64).reshape(-1)
    pos = _HEADER.size
    dod = None
    if n > 1:
        dod = _unshuffle_rows(rows[:, pos : pos + 8 * (n - 1)], n - 1)
        pos += 8 * (n - 1)
    ts = _timestamps(ts0, dod, n)
    columns = []
    for _ in range(k):
        words = _unshuffle_rows(rows[:, pos + 2 : pos + 2 + 8 * n], n)
        columns.append(_values(words, rows[:, pos], rows[:, pos + 1]))
        pos += 2 + 8 * n
    return ts, columns


def _decode_group_v2(
    rows: npt.NDArray[np.uint8], layout: _Layout
) -> tuple[Int64Array, list[Float64Array]]:
    n = layout.n
    ts0 = rows[:, 6:14].copy().view(np.int64).reshape(-1)
    pos = _HEADER.size
    if n > 1 and layout.ts_mask == 0:
        # Evenly spaced (agents report on a timer): every delta-of-delta after the first
        # delta is zero, so the timestamps are ts0 + i * delta, as the sums would give.
        delta = _unzigzag(rows[:, pos : pos + 8].copy().view(np.uint64).reshape(-1))
        ts = ts0[:, None] + delta[:, None] * np.arange(n, dtype=np.int64)
        pos += 8 if n == 2 else 9
    elif n > 1:
        dod, pos = _unpack_rows(rows, pos, n - 1, layout.ts_mask)
        ts = _timestamps(ts0, dod, n)
    else:
        ts = _timestamps(ts0, None, n)
    columns = []
    for mask in layout.masks:
        mode, dec = rows[:, pos], rows[:, pos + 1]
        words, pos = _unpack_rows(rows, pos + 2, n, mask)
        columns.append(_values(words, mode, dec))
    return ts, columns


def decode_many(blobs: Sequence[bytes]) -> Decoded:
    """Many chunks of ``k`` columns each, concatenated in the given order.

    Returns (timestamps, columns, rows per chunk). A query of a fleet reads thousands of
    chunks of the same shape (360 samples an hour at 10 s); decoding them one by one
    spent ~40 µs of numpy call overhead per chunk, so chunks of one layout (version,
    rows, planes stored) are decoded together as the rows of one 2-D array.
    """
    bufs = list(map(_decompress, blobs))
    count = len(bufs)
    sizes = np.zeros(count, dtype=np.int64)
    groups: dict[_Layout, list[int]] = {}
    width = -1
    for i, buf in enumerate(bufs):
        layout = _layout(buf)
        if width < 0:
            width = layout.k
        elif layout.k != width:
            raise ChunkError(f"chunks of {layout.k} and {width} columns cannot be decoded together")
        sizes[i] = layout.n
        groups.setdefault(layout, []).append(i)
    total = int(sizes.sum())
    ts_all = np.empty(total, dtype=np.int64)
    cols_all = [np.empty(total, dtype=np.float64) for _ in range(max(width, 0))]
    offsets = np.zeros(count, dtype=np.int64)
    np.cumsum(sizes[:-1], out=offsets[1:])
    for layout, members in groups.items():
        n = layout.n
        if n == 0:
            continue
        joined = np.frombuffer(b"".join(bufs[i] for i in members), dtype=np.uint8)
        rows = joined.reshape(len(members), layout.length)
        if layout.version == 1:
            ts, cols = _decode_group_v1(rows, n, layout.k)
        else:
            ts, cols = _decode_group_v2(rows, layout)
        if len(members) == count:  # one layout for all (the usual case): in order already
            return ts.reshape(-1), [c.reshape(-1) for c in cols], sizes
        # Scatter each chunk's rows to their place in the concatenation.
        where = (offsets[members][:, None] + np.arange(n)).ravel()
        ts_all[where] = ts.ravel()
        for out, col in zip(cols_all, cols, strict=True):
            out[where] = col.ravel()
    return ts_all, cols_all, sizes
