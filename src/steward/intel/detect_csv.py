"""``steward detect FILE.csv [--output OUT.csv]``: score a ``timestamp,value`` CSV.

The input needs a header whose first two columns are ``timestamp`` and ``value``; each row is
scored by one :class:`~steward.intel.detector.StreamDetector` in file order and written as
``timestamp,anomaly_score`` (the timestamp text is copied unchanged).  Timestamps are ISO 8601
(``2014-04-01 00:00:00``; naive means UTC) or epoch seconds, and must strictly increase.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import math
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from steward.intel.detector import StreamDetector

__all__ = ["CsvFormatError", "configure_parser", "detect_csv", "func"]


class CsvFormatError(ValueError):
    """A malformed input CSV; ``line_number`` is 1-based (the header is line 1)."""

    def __init__(self, line_number: int, message: str) -> None:
        super().__init__(f"line {line_number}: {message}")
        self.line_number = line_number
        self.message = message


def _parse_time(text: str, line: int) -> float:
    text = text.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(seconds):
            raise CsvFormatError(line, f"bad timestamp {text!r}")
        return seconds
    try:
        stamp = dt.datetime.fromisoformat(text)
    except ValueError:
        raise CsvFormatError(line, f"bad timestamp {text!r}") from None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.UTC)
    return stamp.timestamp()


def _rows(fh: IO[str]) -> Iterator[tuple[int, str, float, float]]:
    """Yield (line number, timestamp text, epoch seconds, value) of each data row."""
    reader = csv.reader(fh)
    header = next(reader, None)
    if header is None or [h.strip().lower() for h in header[:2]] != ["timestamp", "value"]:
        raise CsvFormatError(1, "missing header 'timestamp,value'")
    width = len(header)
    previous = -math.inf
    for row in reader:
        line = reader.line_num
        if not row:
            continue
        if len(row) != width:
            raise CsvFormatError(line, f"expected {width} columns, got {len(row)}")
        seconds = _parse_time(row[0], line)
        if seconds <= previous:
            raise CsvFormatError(line, f"timestamp {row[0].strip()!r} does not increase")
        previous = seconds
        try:
            value = float(row[1])
        except ValueError:
            raise CsvFormatError(line, f"bad number {row[1]!r}") from None
        if not math.isfinite(value):
            raise CsvFormatError(line, f"value {row[1]!r} is not finite")
        yield line, row[0].strip(), seconds, value


def detect_csv(input_path: str | Path, output: str | Path | IO[str]) -> int:
    """Score ``input_path`` into ``output`` (a path or a text stream); return the row count.

    Rows are written as they are scored, so on a :class:`CsvFormatError` the output holds the
    rows before the bad line.
    """
    with open(input_path, newline="") as src:
        if isinstance(output, str | Path):
            with open(output, "w", newline="") as dst:
                return _detect(src, dst)
        return _detect(src, output)


def _detect(src: IO[str], dst: IO[str]) -> int:
    detector = StreamDetector()
    writer = csv.writer(dst, lineterminator="\n")
    writer.writerow(["timestamp", "anomaly_score"])
    count = 0
    for _, text, seconds, value in _rows(src):
        writer.writerow([text, f"{detector.update(seconds, value).score:.6f}"])
        count += 1
    return count


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add the ``detect`` arguments to ``parser`` and set ``func`` as its handler."""
    parser.add_argument("input", metavar="FILE.csv", help="CSV with a timestamp,value header")
    parser.add_argument(
        "--output", "-o", metavar="OUT.csv", help="where to write scores (default: stdout)"
    )
    parser.set_defaults(func=func)


def func(args: argparse.Namespace) -> int:
    """Run ``steward detect``; exit code 0, or 2 on a malformed or unreadable input."""
    try:
        detect_csv(args.input, args.output if args.output else sys.stdout)
    except CsvFormatError as exc:
        print(f"steward detect: {args.input}: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"steward detect: {exc}", file=sys.stderr)
        return 2
    return 0
