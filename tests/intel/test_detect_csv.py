"""detect_csv: scores a timestamp,value CSV in order; malformed rows name their line."""

from __future__ import annotations

import argparse
import io
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
