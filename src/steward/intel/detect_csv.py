"""``steward detect FILE.csv [--output OUT.csv]``: score a ``timestamp,value`` CSV.

The input needs a header whose first two columns are ``timestamp`` and ``value``; each row is
scored by one :class:`~steward.intel.detector.StreamDetector` in file order and written as
``timestamp,anomaly_score`` (the timestamp text is copied unchanged).  Timestamps are ISO 8601
(``2014-04-01 00:00:00``; naive means UTC) or epoch seconds, and must strictly increase;
epoch numbers of 1e11 or more are read as milliseconds.
The input is UTF-8 (a byte-order mark, as spreadsheet programs write, is allowed).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import math
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from steward.intel.detector import StreamDetector

__all__ = ["CsvFormatError", "SameFileError", "configure_parser", "detect_csv", "func"]


class CsvFormatError(ValueError):
    """A malformed input CSV; ``line_number`` is 1-based (the header is line 1)."""

    def __init__(self, line_number: int, message: str) -> None:
        super().__init__(f"line {line_number}: {message}")
        self.line_number = line_number
        self.message = message


# Epoch numbers at least this large are milliseconds (as many exporters and JavaScript
# write them): as seconds they would be after the year 5000, and the detector's daily and
# weekly patterns would run 1,000 times too slowly.
EPOCH_MS_FROM = 1e11


def _parse_time(text: str, line: int) -> float:
    text = text.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(seconds):
            raise CsvFormatError(line, f"bad timestamp {text!r}")
        return seconds / 1000.0 if abs(seconds) >= EPOCH_MS_FROM else seconds
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
    try:
        yield from _checked_rows(reader)
    except csv.Error as exc:  # an unclosed quote runs into the field size limit
        raise CsvFormatError(reader.line_num, f"unreadable CSV ({exc})") from None


def _checked_rows(reader: Any) -> Iterator[tuple[int, str, float, float]]:
    header = next(reader, None)
    if header is None or [h.strip().lower() for h in header[:2]] != ["timestamp", "value"]:
        raise CsvFormatError(1, "missing header 'timestamp,value'")
    width = len(header)
    previous = -math.inf
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):  # a blank line, spaces or ",," included
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
    rows before the bad line.  An output path naming the input file is refused
    (:class:`SameFileError`): opening it for writing would empty the input before it is read.
    """
    try:
        with open(input_path, encoding="utf-8-sig", newline="") as src:
            if isinstance(output, str | Path):
                if _same_file(input_path, output):
                    raise SameFileError(f"the output {str(output)!r} is the input file")
                with open(output, "w", encoding="utf-8", newline="") as dst:
                    return _detect(src, dst)
            return _detect(src, output)
    except UnicodeDecodeError:
        # Text is decoded in blocks, so the reader's line count is not where the bad byte is.
        line, byte = _first_bad_line(input_path)
        raise CsvFormatError(line, f"not UTF-8 text (byte 0x{byte:02x})") from None


def _first_bad_line(path: str | Path) -> tuple[int, int]:
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                return number, raw[exc.start]
    return 1, 0  # not reached: the text decoder failed on some line


class SameFileError(ValueError):
    """``--output`` names the input file."""


def _same_file(a: str | Path, b: str | Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # the output does not exist yet
        return False


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
    """Run ``steward detect``; exit code 0, or 2 on a malformed or unreadable input. A
    reader of the output that went away (``| head -1``) is ``main``'s to handle, as for
    every command: exit 141 without a word."""
    try:
        detect_csv(args.input, args.output if args.output else sys.stdout)
        sys.stdout.flush()  # here, not at exit, so a closed pipe reaches main
    except BrokenPipeError:
        raise  # not the OSError below: main tells a closed stdout from other pipes
    except CsvFormatError as exc:
        print(f"steward detect: {args.input}: {exc}", file=sys.stderr)
        return 2
    except SameFileError as exc:
        print(f"steward detect: {exc}; write the scores to another file", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"steward detect: {exc}", file=sys.stderr)
        return 2
    return 0
