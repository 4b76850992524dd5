"""Prometheus remote-write 1.0 bodies: snappy block format around a protobuf ``WriteRequest``.

A small hand-written decoder for the four messages we need (prometheus/prompb
``remote.proto`` and ``types.proto``), rather than generated code and a protobuf runtime::

    WriteRequest   { repeated TimeSeries timeseries = 1; repeated MetricMetadata metadata = 3; }
    TimeSeries     { repeated Label labels = 1; repeated Sample samples = 2;
                     repeated Exemplar exemplars = 3; repeated Histogram histograms = 4; }
    Label          { string name = 1; string value = 2; }
    Sample         { double value = 1; int64 timestamp = 2; }   // timestamp in ms
    MetricMetadata { MetricType type = 1; string metric_family_name = 2;
                     string help = 4; string unit = 5; }

Wire format per https://protobuf.dev/programming-guides/encoding/: a key is a varint
``field_number << 3 | wire_type``; wire types 0 (varint), 1 (fixed 64-bit, little endian),
2 (length-delimited), 5 (fixed 32-bit). Unknown fields are skipped, as protobuf requires.
Exemplars and native histograms are skipped and counted. Pure Python, no Django.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import cramjam

_DOUBLE = struct.Struct("<d")

# prompb MetricMetadata.MetricType
METADATA_TYPES = {
    0: "unknown",
    1: "counter",
    2: "gauge",
    3: "histogram",
    4: "gaugehistogram",
    5: "summary",
    6: "info",
    7: "stateset",
}


class DecodeError(ValueError):
    """The body is not a valid snappy-compressed WriteRequest; the message says where."""


@dataclass(slots=True)
class TimeSeries:
    labels: list[tuple[str, str]]
    samples: list[tuple[int, float]]  # (timestamp ms, value)


@dataclass(slots=True)
class Metadata:
    type: str
    metric: str
    help: str
    unit: str


@dataclass
class WriteRequest:
    timeseries: list[TimeSeries] = field(default_factory=list)
    metadata: list[Metadata] = field(default_factory=list)
    skipped_histograms: int = 0
    skipped_exemplars: int = 0


def snappy_uncompressed_length(body: bytes) -> int:
    """The length the snappy block format announces in its varint preamble.

    Checked before decompressing, so a tiny body cannot make us allocate gigabytes.
    """
    try:
        value, _ = _varint(body, 0, len(body))
    except DecodeError:
        raise DecodeError("corrupt snappy data: bad length preamble") from None
    return value


def decompress(body: bytes, max_size: int) -> bytes:
    """Snappy *block* format (what remote write uses, not the framed stream format)."""
    announced = snappy_uncompressed_length(body)
    if announced > max_size:
        raise OverflowError(announced)
    try:
        return bytes(cramjam.snappy.decompress_raw(body))
    except Exception as exc:  # cramjam raises its own DecompressionError (not exported)
        raise DecodeError(f"corrupt snappy data: {exc}") from None


def _varint(buf: bytes, i: int, end: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        if i >= end:
            raise DecodeError("truncated varint")
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, i
        shift += 7
        if shift >= 70:
            raise DecodeError("varint too long")


def _skip(buf: bytes, wire_type: int, i: int, end: int) -> int:
    if wire_type == 0:
        _, i = _varint(buf, i, end)
    elif wire_type == 1:
        i += 8
    elif wire_type == 2:
        length, i = _varint(buf, i, end)
        i += length
    elif wire_type == 5:
        i += 4
    else:
        raise DecodeError(f"unsupported wire type {wire_type}")
    if i > end:
        raise DecodeError("truncated field")
    return i


def _length_delimited(buf: bytes, i: int, end: int) -> tuple[int, int]:
    length, i = _varint(buf, i, end)
    stop = i + length
    if stop > end:
        raise DecodeError("truncated message")
    return i, stop


def _string(buf: bytes, start: int, stop: int, what: str) -> str:
    try:
        return buf[start:stop].decode("utf-8")
    except UnicodeDecodeError:
        raise DecodeError(f"{what} is not valid UTF-8") from None


def decode_write_request(buf: bytes) -> WriteRequest:
    """Decode an uncompressed ``WriteRequest``; raise ``DecodeError`` naming what is wrong."""
    request = WriteRequest()
    i, end = 0, len(buf)
    series_index = 0
    while i < end:
        key, i = _varint(buf, i, end)
        number, wire_type = key >> 3, key & 7
        if number == 1 and wire_type == 2:
            start, stop = _length_delimited(buf, i, end)
            try:
                request.timeseries.append(_timeseries(buf, start, stop, request))
            except DecodeError as exc:
                raise DecodeError(f"timeseries {series_index}: {exc}") from None
            series_index += 1
            i = stop
        elif number == 3 and wire_type == 2:
            start, stop = _length_delimited(buf, i, end)
            request.metadata.append(_metadata(buf, start, stop))
            i = stop
        else:
            i = _skip(buf, wire_type, i, end)
    return request


def _timeseries(buf: bytes, i: int, end: int, request: WriteRequest) -> TimeSeries:
    labels: list[tuple[str, str]] = []
    samples: list[tuple[int, float]] = []
    while i < end:
        key, i = _varint(buf, i, end)
        number, wire_type = key >> 3, key & 7
        if number == 1 and wire_type == 2:
            start, stop = _length_delimited(buf, i, end)
            labels.append(_label(buf, start, stop))
            i = stop
        elif number == 2 and wire_type == 2:
            start, stop = _length_delimited(buf, i, end)
            samples.append(_sample(buf, start, stop))
            i = stop
        else:
            if number == 3:
                request.skipped_exemplars += 1
            elif number == 4:
                request.skipped_histograms += 1
            i = _skip(buf, wire_type, i, end)
    return TimeSeries(labels, samples)


def _label(buf: bytes, i: int, end: int) -> tuple[str, str]:
    name = value = ""
    while i < end:
        key, i = _varint(buf, i, end)
        number, wire_type = key >> 3, key & 7
        if wire_type == 2 and number in (1, 2):
            start, stop = _length_delimited(buf, i, end)
            text = _string(buf, start, stop, "label name" if number == 1 else "label value")
            if number == 1:
                name = text
            else:
                value = text
            i = stop
        else:
            i = _skip(buf, wire_type, i, end)
    return name, value


def _sample(buf: bytes, i: int, end: int) -> tuple[int, float]:
    value = 0.0
    timestamp = 0
    while i < end:
        key, i = _varint(buf, i, end)
        number, wire_type = key >> 3, key & 7
        if number == 1 and wire_type == 1:
            if i + 8 > end:
                raise DecodeError("truncated sample value")
            (value,) = _DOUBLE.unpack_from(buf, i)
            i += 8
        elif number == 2 and wire_type == 0:
            timestamp, i = _varint(buf, i, end)
            if timestamp >= 1 << 63:  # int64 is two's complement on the wire
                timestamp -= 1 << 64
        else:
            i = _skip(buf, wire_type, i, end)
    return timestamp, value


def _metadata(buf: bytes, i: int, end: int) -> Metadata:
    kind, metric, help_text, unit = 0, "", "", ""
    while i < end:
        key, i = _varint(buf, i, end)
        number, wire_type = key >> 3, key & 7
        if number == 1 and wire_type == 0:
            kind, i = _varint(buf, i, end)
        elif wire_type == 2 and number in (2, 4, 5):
            start, stop = _length_delimited(buf, i, end)
            text = _string(buf, start, stop, "metadata")
            if number == 2:
                metric = text
            elif number == 4:
                help_text = text
            else:
                unit = text
            i = stop
        else:
            i = _skip(buf, wire_type, i, end)
    return Metadata(METADATA_TYPES.get(kind, "unknown"), metric, help_text, unit)
