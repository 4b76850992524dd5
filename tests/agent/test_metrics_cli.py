"""``steward agent metrics`` and ``steward agent run --interval``."""

from __future__ import annotations

import argparse
import json

import pytest

from steward.agent.__main__ import main
from steward.agent.cli import configure_parser
from steward.agent.metrics.families import FAMILIES


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    configure_parser(parser)
    return parser.parse_args(argv)


def test_run_takes_an_interval_within_the_protocols_bounds() -> None:
    assert parse("run", "--interval", "1").interval == 1.0
    assert parse("run").interval == 10.0
    assert parse().interval == 10.0  # bare `steward agent` runs with the default
    for bad in ("0", "3601", "soon"):
        with pytest.raises(SystemExit):
            parse("run", "--interval", bad)


def test_metrics_prints_one_round_as_a_batch(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["metrics"]) == 0
    payload = json.loads(capsys.readouterr().out)
    names = {family["name"] for family in payload["families"]}
    assert {"node_cpu_seconds_total", "node_memory_MemTotal_bytes", "node_uname_info"} <= names


def test_metrics_families_prints_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["metrics", "--families"]) == 0
    assert capsys.readouterr().out.count("\n") == len(FAMILIES) + 2
