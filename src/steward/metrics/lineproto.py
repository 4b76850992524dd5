"""InfluxDB line protocol, parsed into points. Pure Python, no Django.

Follows the InfluxDB 1.x/2.x reference ("Line protocol", docs.influxdata.com):

    measurement[,tag=value...] field=value[,field=value...] [timestamp]

* Measurement: ``,`` and space are escaped with ``\\``. Tag keys, tag values and field
  keys: ``,``, ``=`` and space are escaped. String field values are double-quoted with
  ``"`` and ``\\`` escaped. A backslash before any other character is a literal backslash;
  two backslashes are one.
* Field values: float (``1``, ``-1.5``, ``1e3``), integer (``1i``), unsigned (``1u``),
  boolean (``t``/``T``/``true``/``True``/``TRUE`` and the ``f`` forms) or string.
  NaN and infinities are not valid line protocol and are refused, as InfluxDB does, and
  so is a float too large for a double (``1e999``), which would parse as an infinity.
* Timestamp: an integer in the request's precision (``ns`` default); absent means the
  time the server received the request.
* Lines starting with ``#`` are comments; blank lines are ignored.

Each physical line is parsed on its own: a malformed line is reported with its 1-based
number and a reason, and the other lines still count (the caller decides the policy).
String fields are skipped (Prometheus samples are numbers) and counted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

# Multiply a timestamp in the given precision by `mul` then floor-divide by `div` -> ms.
PRECISIONS: dict[str, tuple[int, int]] = {
    "ns": (1, 1_000_000),
    "n": (1, 1_000_000),
    "us": (1, 1_000),
    "u": (1, 1_000),
    "µ": (1, 1_000),
    "ms": (1, 1),
    "s": (1_000, 1),
    "m": (60_000, 1),
    "h": (3_600_000, 1),
}

_TRUE = frozenset({"t", "T", "true", "True", "TRUE"})
_FALSE = frozenset({"f", "F", "false", "False", "FALSE"})
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_UINT64_MAX = 2**64 - 1
_MEASUREMENT_ESCAPES = frozenset(", \\")
_KEY_ESCAPES = frozenset(",= \\")


class LineError(ValueError):
    """One line is not valid line protocol; ``str(exc)`` is the reason."""


@dataclass(slots=True)
class Point:
    """One parsed line: numeric fields only (strings were skipped and counted)."""

    line: int  # 1-based line number in the body
    measurement: str
    tags: dict[str, str]
    fields: list[tuple[str, float]]
    timestamp_ms: int | None  # None: no timestamp on the line


@dataclass
class ParseResult:
    points: list[Point] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason)
    rejected_lines: int = 0  # every malformed line, also beyond the detailed ``errors``
    strings_skipped: int = 0

    @property
    def first_error(self) -> str | None:
        if not self.errors:
            return None
        number, reason = self.errors[0]
        return f"line {number}: {reason}"


def parse(text: str, precision: str = "ns", max_errors: int = 100) -> ParseResult:
    """Parse a whole body. Errors are collected (the first ``max_errors`` kept in detail)."""
    return parse_lines(enumerate(text.split("\n"), start=1), precision, max_errors)


def parse_lines(
    lines: Iterable[tuple[int, str]], precision: str = "ns", max_errors: int = 100
) -> ParseResult:
    """Parse ``(line number, physical line)`` pairs: ``parse`` for a chosen subset."""
    try:
        mul, div = PRECISIONS[precision]
    except KeyError:
        raise ValueError(f"unknown precision {precision!r}: use ns, us, ms or s") from None
    result = ParseResult()
    points, errors = result.points, result.errors
    for number, raw in lines:
        line = raw.strip(" \t\r")
        if not line or line[0] == "#":
            continue
        try:
            point, strings = _parse_line(line, number, mul, div)
        except LineError as exc:
            result.rejected_lines += 1
            if len(errors) < max_errors:
                errors.append((number, str(exc)))
            continue
        result.strings_skipped += strings
        if point is not None:
            points.append(point)
    return result


def _parse_line(line: str, number: int, mul: int, div: int) -> tuple[Point | None, int]:
    if "\\" in line or '"' in line:
        measurement, tags, raw_fields, raw_ts = _split_escaped(line)
    else:
        measurement, tags, raw_fields, raw_ts = _split_plain(line)
    fields: list[tuple[str, float]] = []
    strings = 0
    for key, raw in raw_fields:
        if raw is None:
            strings += 1
            continue
        fields.append((key, _number(raw)))
    ts = _timestamp(raw_ts, mul, div) if raw_ts is not None else None
    if not fields:
        # Only string fields: valid line protocol, nothing numeric to keep.
        return None, strings
    return Point(number, measurement, tags, fields, ts), strings


# A field as (key, raw text) for numbers, or (key, None) for a string value.
RawFields = list[tuple[str, str | None]]


def _split_plain(line: str) -> tuple[str, dict[str, str], RawFields, str | None]:
    """The common case (no backslash, no quote): plain ``str.split``, no per-char loop."""
    parts = line.split(" ")
    if len(parts) == 2:
        key, fields_text = parts
        raw_ts = None
    elif len(parts) == 3:
        key, fields_text, raw_ts = parts
    elif len(parts) == 1:
        raise LineError("missing fields")
    else:
        raise LineError("unexpected space (escape spaces in names with '\\ ')")
    measurement, *tag_parts = key.split(",")
    if not measurement:
        raise LineError("missing measurement")
    tags: dict[str, str] = {}
    for part in tag_parts:
        name, sep, value = part.partition("=")
        if not sep or not name:
            raise LineError(f"invalid tag {part!r}: expected key=value")
        if not value:
            raise LineError(f"missing value for tag {name!r}")
        if "=" in value:
            raise LineError(f"invalid tag {part!r}: unescaped '='")
        tags[name] = value
    fields: RawFields = []
    for part in fields_text.split(","):
        name, sep, value = part.partition("=")
        if not sep or not name:
            raise LineError(f"invalid field {part!r}: expected key=value")
        if not value:
            raise LineError(f"missing value for field {name!r}")
        fields.append((name, value))
    return measurement, tags, fields, raw_ts


def _token(line: str, i: int, stops: str, escapes: frozenset[str]) -> tuple[str, int]:
    """Read up to an unescaped character in ``stops``; unescape ``escapes``."""
    n = len(line)
    out: list[str] = []
    while i < n:
        c = line[i]
        if c == "\\" and i + 1 < n and line[i + 1] in escapes:
            out.append(line[i + 1])
            i += 2
            continue
        if c in stops:
            break
        out.append(c)
        i += 1
    return "".join(out), i


def _split_escaped(line: str) -> tuple[str, dict[str, str], RawFields, str | None]:
    """The general scanner for lines with escapes or quoted strings."""
    n = len(line)
    measurement, i = _token(line, 0, ", ", _MEASUREMENT_ESCAPES)
    if not measurement:
        raise LineError("missing measurement")
    tags: dict[str, str] = {}
    while i < n and line[i] == ",":
        name, i = _token(line, i + 1, ",= ", _KEY_ESCAPES)
        if i >= n or line[i] != "=":
            raise LineError(f"invalid tag {name!r}: expected key=value")
        if not name:
            raise LineError("empty tag key")
        value, i = _token(line, i + 1, ", =", _KEY_ESCAPES)
        if i < n and line[i] == "=":
            raise LineError(f"invalid tag {name!r}: unescaped '='")
        if not value:
            raise LineError(f"missing value for tag {name!r}")
        tags[name] = value
    if i >= n:
        raise LineError("missing fields")
    i += 1  # the space before the fields
    fields: RawFields = []
    while True:
        name, i = _token(line, i, ",= ", _KEY_ESCAPES)
        if i >= n or line[i] != "=":
            raise LineError(f"invalid field {name!r}: expected key=value")
        if not name:
            raise LineError("empty field key")
        i += 1
        if i < n and line[i] == '"':
            _, i = _quoted(line, i + 1)
            fields.append((name, None))
        else:
            start = i
            while i < n and line[i] not in ", ":
                i += 1
            if i == start:
                raise LineError(f"missing value for field {name!r}")
            fields.append((name, line[start:i]))
        if i < n and line[i] == ",":
            i += 1
            continue
        break
    if i >= n:
        return measurement, tags, fields, None
    rest = line[i + 1 :]
    if not rest or " " in rest:
        raise LineError("unexpected text after the timestamp")
    return measurement, tags, fields, rest


def _quoted(line: str, i: int) -> tuple[str, int]:
    """A string field value after its opening quote; returns (value, index after the quote)."""
    n = len(line)
    out: list[str] = []
    while i < n:
        c = line[i]
        if c == "\\" and i + 1 < n and line[i + 1] in '"\\':
            out.append(line[i + 1])
            i += 2
            continue
        if c == '"':
            return "".join(out), i + 1
        out.append(c)
        i += 1
    raise LineError("unterminated string field value")


def _number(raw: str) -> float:
    last = raw[-1]
    if last.isdigit() or last == ".":
        # The common case, a float. float() also takes what line protocol does not:
        # digit separators ("1_000") and non-ASCII digits; "nan"/"inf" end in a letter.
        try:
            value = float(raw)
        except ValueError:
            raise LineError(f"invalid field value {raw!r}") from None
        if "_" in raw or not raw.isascii():
            raise LineError(f"invalid field value {raw!r}")
        if value - value != 0.0:  # overflowed to an infinity (1e999): InfluxDB refuses it
            raise LineError(f"field value {raw!r} out of range")
        return value
    if last == "i" or last == "u":
        digits = raw[:-1]
        body = digits[1:] if digits[:1] == "-" and last == "i" else digits
        if not body.isascii() or not body.isdigit():
            raise LineError(f"invalid {'integer' if last == 'i' else 'unsigned'} value {raw!r}")
        value = int(digits)
        if last == "i" and not _INT64_MIN <= value <= _INT64_MAX:
            raise LineError(f"integer value {raw!r} out of range")
        if last == "u" and value > _UINT64_MAX:
            raise LineError(f"unsigned value {raw!r} out of range")
        return float(value)
    if raw in _TRUE:
        return 1.0
    if raw in _FALSE:
        return 0.0
    raise LineError(f"invalid field value {raw!r}")


def _timestamp(raw: str, mul: int, div: int) -> int:
    body = raw[1:] if raw[:1] == "-" else raw
    if not body or not body.isascii() or not body.isdigit():
        raise LineError(f"invalid timestamp {raw!r}")
    return int(raw) * mul // div
