"""detect_csv: scores a timestamp,value CSV in order; malformed rows name their line."""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
from pathlib import Path

import pytest

from steward.intel.detect_csv import CsvFormatError, configure_parser, detect_csv

GOOD = "timestamp,value\n" + "".join(
    f"2014-04-01 {h:02d}:{m:02d}:00,{10 + (h * 60 + m) % 7}\n"
    for h in range(3)
    for m in range(0, 60, 5)
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "in.csv"
    path.write_text(text)
    return path


def test_it_writes_one_score_per_row_in_order(tmp_path: Path) -> None:
    out = io.StringIO()
    assert detect_csv(write(tmp_path, GOOD), out) == 36
    lines = out.getvalue().splitlines()
    assert lines[0] == "timestamp,anomaly_score"
    assert [line.split(",")[0] for line in lines[1:]] == [
        row.split(",")[0] for row in GOOD.splitlines()[1:]
    ]
    assert all(0.0 <= float(line.split(",")[1]) <= 1.0 for line in lines[1:])


def test_it_writes_to_a_path(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    detect_csv(write(tmp_path, GOOD), target)
    assert len(target.read_text().splitlines()) == 37


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("time,value\n2014-04-01 00:00:00,1\n", 1),
        ("", 1),
        ("timestamp,value\n2014-04-01 00:00:00,1\n2014-04-01 00:05:00,abc\n", 3),
        ("timestamp,value\n2014-04-01 00:00:00,1\nyesterday,2\n", 3),
        ("timestamp,value\n2014-04-01 00:05:00,1\n2014-04-01 00:00:00,2\n", 3),
        ("timestamp,value\n2014-04-01 00:00:00,1\n2014-04-01 00:00:00,2\n", 3),
        ("timestamp,value\n2014-04-01 00:00:00,1\n2014-04-01 00:05:00,2,3\n", 3),
        ("timestamp,value\n2014-04-01 00:00:00,nan\n", 2),
    ],
    ids=["bad header", "empty", "bad number", "bad time", "backwards", "repeat", "columns", "nan"],
)
def test_malformed_rows_raise_with_the_line_number(tmp_path: Path, text: str, line: int) -> None:
    with pytest.raises(CsvFormatError) as err:
        detect_csv(write(tmp_path, text), io.StringIO())
    assert err.value.line_number == line
    assert f"line {line}" in str(err.value)


def test_the_cli_handler_prints_the_error_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser()
    configure_parser(parser)
    bad = write(tmp_path, "timestamp,value\n2014-04-01 00:00:00,x\n")
    args = parser.parse_args([str(bad)])
    assert args.func(args) == 2
    assert "line 2" in capsys.readouterr().err
    good = write(tmp_path, GOOD)
    out = tmp_path / "scores.csv"
    args = parser.parse_args([str(good), "--output", str(out)])
    assert args.func(args) == 0
    assert out.read_text().startswith("timestamp,anomaly_score\n")


def cli(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    configure_parser(parser)
    args = parser.parse_args(list(argv))
    return int(args.func(args))


def test_a_byte_order_mark_and_crlf_line_ends_are_read(tmp_path: Path) -> None:
    # What spreadsheet programs save as "CSV UTF-8" on Windows.
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD.replace("\n", "\r\n").encode())
    out = io.StringIO()
    assert detect_csv(path, out) == 36
    assert out.getvalue().splitlines()[1].startswith("2014-04-01 00:00:00,")


def test_the_output_may_not_be_the_input_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, GOOD)
    assert cli(str(path), "--output", str(tmp_path / "." / "in.csv")) == 2
    assert "is the input file" in capsys.readouterr().err
    assert path.read_text() == GOOD  # not emptied


def test_text_that_is_not_utf8_names_its_line_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "latin1.csv"
    rows = GOOD.splitlines(keepends=True)
    path.write_bytes("".join(rows[:30]).encode() + b"2014-04-01 02:30:00,1\xe9\n")
    with pytest.raises(CsvFormatError) as err:
        detect_csv(path, io.StringIO())
    assert err.value.line_number == 31
    assert cli(str(path)) == 2
    assert "line 31: not UTF-8" in capsys.readouterr().err


def test_an_unclosed_quote_is_a_format_error_not_a_crash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The unclosed quote swallows the rest of the file into one field, past csv's limit.
    text = GOOD + '"2014-04-01 03:00:00,1\n' + "2014-04-01 03:05:00,1\n" * 9000
    path = write(tmp_path, text)
    with pytest.raises(CsvFormatError) as err:
        detect_csv(path, io.StringIO())
    assert "unreadable CSV" in err.value.message
    assert cli(str(path)) == 2
    assert "steward detect:" in capsys.readouterr().err


def test_lines_that_are_blank_but_for_spaces_or_commas_are_skipped(tmp_path: Path) -> None:
    rows = GOOD.splitlines(keepends=True)
    text = "".join([rows[0], rows[1], "\n", "   \n", rows[2], ",\n", rows[3], " , \n"])
    out = io.StringIO()
    assert detect_csv(write(tmp_path, text), out) == 3


def test_epoch_seconds_milliseconds_and_iso_times_score_alike(tmp_path: Path) -> None:
    # Epoch milliseconds (as many exporters write them) were read as seconds: the daily
    # pattern then ran 1,000 times too slowly and the scores differed from the same data
    # with ISO times.
    import datetime as dt
    import math

    start = dt.datetime(2014, 4, 1, tzinfo=dt.UTC)
    stamps = [start + dt.timedelta(minutes=5 * i) for i in range(3 * 288)]
    values = [
        50 + 20 * math.sin(2 * math.pi * i / 288) + (60 if i == 700 else 0) for i in range(864)
    ]

    def scores(render) -> list[str]:
        text = "timestamp,value\n" + "".join(
            f"{render(t)},{v}\n" for t, v in zip(stamps, values, strict=True)
        )
        out = io.StringIO()
        path = tmp_path / "series.csv"
        path.write_text(text)
        detect_csv(path, out)
        return [line.split(",")[1] for line in out.getvalue().splitlines()[1:]]

    iso = scores(lambda t: t.isoformat())
    assert scores(lambda t: str(int(t.timestamp()))) == iso
    assert scores(lambda t: str(int(t.timestamp() * 1000))) == iso
    assert max(map(float, iso)) == float(iso[700])  # the spike is the most anomalous row


def test_a_reader_that_stops_early_ends_it_quietly(tmp_path: Path) -> None:
    # `steward detect big.csv | head -1`: the scores overflow the pipe (64 KiB), so the
    # command is still writing when the reader closes its end.
    rows = "".join(f"{1_700_000_000 + 60 * i},{10 + i % 7}\n" for i in range(20_000))
    source = write(tmp_path, "timestamp,value\n" + rows)
    process = subprocess.Popen(
        [sys.executable, "-m", "steward", "detect", str(source)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    assert process.stdout.readline() == b"timestamp,anomaly_score\n"
    process.stdout.close()
    stderr = process.stderr.read().decode()
    process.stderr.close()
    # 141 = 128 + SIGPIPE: what the shell reports for a Unix tool the signal ended.
    assert (process.wait(timeout=60), stderr) == (141, "")
