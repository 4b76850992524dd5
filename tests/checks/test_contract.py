"""The shared vocabulary: specs, results, ranges, the registry's promises, soft/hard states,
and the package's isolation (it ships inside the agent)."""

from __future__ import annotations

import ast
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

import pytest

import steward.checks
from steward.checks import (
    REGISTRY,
    Check,
    CheckResult,
    CheckSpec,
    CheckState,
    Metric,
    Range,
    Side,
    SpecError,
    Status,
    advance,
    describe_types,
    run,
    types,
    validate,
)
from steward.checks.registry import Context

# --- spec validation -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"interval": 0.5}, "interval: must be between 1 and 86400 seconds"),
        ({"interval": 86401}, "interval: must be between 1 and 86400 seconds"),
        ({"timeout": 0}, "timeout: must be between 0 and 300 seconds"),
        ({"retries": -1}, "retries: must be between 0 and 10"),
        ({"retries": True}, "retries: must be an integer"),
        ({"type": ""}, "type: is required"),
    ],
)
def test_spec_rejects_out_of_range_fields(kwargs: dict, error: str) -> None:
    with pytest.raises(SpecError, match=error):
        CheckSpec(**{"type": "tcp", **kwargs})


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        (CheckSpec("tcp", "h"), "params.port: is required"),
        (CheckSpec("tcp", "h", {"port": 70000}), "params.port: must be at most 65535"),
        (CheckSpec("tcp", "h", {"port": "80"}), "params.port: must be an integer"),
        (CheckSpec("tcp", "h", {"port": 80, "nope": 1}), "params.nope: unknown parameter"),
        (CheckSpec("tcp", "", {"port": 80}), "target: is required"),
        (CheckSpec("http", "ftp://x"), "target: must be an absolute http"),
        (CheckSpec("http", "http://x", {"method": "PUT"}), "params.method: must be one of"),
        (CheckSpec("log", "/x", {"pattern": "("}), "params.pattern: is not a valid regular"),
        (CheckSpec("tls", "h", {"warn_days": 3.0, "crit_days": 7.0}), "params.warn_days"),
        (CheckSpec("tcp", "h", {"port": 1, "warn_ms": 9.0, "crit_ms": 1.0}), "params.warn_ms"),
        (CheckSpec("bogus", "h"), "type: unknown check type 'bogus'"),
    ],
)
def test_invalid_params_give_a_stable_first_error(spec: CheckSpec, error: str) -> None:
    with pytest.raises(SpecError, match=error):
        validate(spec)
    assert run(spec).status is Status.UNKNOWN


def test_spec_round_trips_and_rejects_unknown_keys() -> None:
    spec = CheckSpec("tcp", "h", {"port": 22}, interval=30, timeout=2, retries=2)
    assert CheckSpec.from_dict(spec.to_dict()) == spec
    with pytest.raises(SpecError, match="colour: unknown field"):
        CheckSpec.from_dict({"type": "tcp", "colour": "red"})


def test_sides_restrict_where_a_type_runs() -> None:
    assert "log" in types(Side.AGENT) and "log" not in types(Side.SERVER)
    assert "http" in types(Side.SERVER) and "http" in types(Side.AGENT)
    with pytest.raises(SpecError, match="log checks run on the agent only"):
        validate(CheckSpec("log", "/var/log/x", {"pattern": "x"}), Side.SERVER)


def test_every_type_describes_itself() -> None:
    described = {d["name"]: d for d in describe_types()}
    assert set(described) == {
        "process", "service", "tcp", "http", "tls", "dns", "ping", "disk", "log", "nagios"
    }  # fmt: skip
    for data in described.values():
        assert data["summary"] and data["target"] and data["side"] in ("agent", "server", "both")
        for param in data["params"]:
            assert param["help"], (data["name"], param["name"])


# --- the runner never raises -----------------------------------------------------------


class _Crashing(Check):
    name = "crashing"
    summary = "raises"
    side = Side.BOTH
    target_help = "anything"
    target_required = False
    params: ClassVar = ()

    def execute(self, ctx: Context) -> CheckResult:
        raise RuntimeError("boom")


class _Stuck(_Crashing):
    name = "stuck"

    def execute(self, ctx: Context) -> CheckResult:
        time.sleep(5)
        return CheckResult(Status.OK, "too late")


def test_exceptions_become_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(REGISTRY, "crashing", _Crashing)
    result = run(CheckSpec("crashing"))
    assert result.status is Status.UNKNOWN
    assert result.message == "crashing check failed: RuntimeError: boom"


def test_a_stuck_check_is_abandoned_after_timeout_plus_grace(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(REGISTRY, "stuck", _Stuck)
    monkeypatch.setattr("steward.checks.registry.TIMEOUT_GRACE_S", 0.1)
    started = time.monotonic()
    result = run(CheckSpec("stuck", timeout=0.2))
    assert time.monotonic() - started < 1.0
    assert result.status is Status.UNKNOWN
    assert "did not finish within its 0.2 s timeout" in result.message


# --- ranges and results ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "alerting", "quiet"),
    [
        ("10", [-1, 11], [0, 10]),
        ("10:", [9.9], [10, 1e9]),
        ("~:10", [11], [-1e9, 10]),
        ("10:20", [9, 21], [10, 20]),
        ("@10:20", [10, 15, 20], [9, 21]),
    ],
)
def test_nagios_ranges(text: str, alerting: list[float], quiet: list[float]) -> None:
    rng = Range.parse(text)
    assert all(rng.alerts(v) for v in alerting)
    assert not any(rng.alerts(v) for v in quiet)
    assert Range.parse(str(rng)) == rng


def test_bad_ranges_are_rejected() -> None:
    for text in ("", "abc", "20:10", "1:2:3"):
        with pytest.raises(ValueError):
            Range.parse(text)


def test_result_round_trips_through_json_shape() -> None:
    result = CheckResult(
        Status.WARNING,
        "slow",
        latency_ms=12.5,
        perfdata=(Metric("time", 0.0125, "s", Range.above(0.01), Range.above(1.0), 0.0),),
        observed_at=datetime(2024, 5, 1, 12, 0, tzinfo=UTC),
        state={"offset": 3},
        details="line 2",
    )
    assert CheckResult.from_dict(result.to_dict()) == result
    assert result.to_dict()["status"] == "warning"


def test_worst_status_ranks_unknown_between_warning_and_critical() -> None:
    assert Status.worst(Status.OK, Status.WARNING, Status.UNKNOWN) is Status.UNKNOWN
    assert Status.worst(Status.UNKNOWN, Status.CRITICAL) is Status.CRITICAL


# --- soft and hard states --------------------------------------------------------------


def _feed(retries: int, *statuses: Status) -> list[CheckState]:
    states, state = [], None
    for status in statuses:
        state = advance(state, status, retries)
        states.append(state)
    return states


def test_default_changes_state_on_the_first_failure() -> None:
    first = _feed(0, Status.CRITICAL)[0]
    assert first.hard is Status.CRITICAL and first.changed and not first.soft


def test_retries_keep_the_state_soft_until_exhausted() -> None:
    crit = Status.CRITICAL
    states = _feed(2, Status.OK, crit, crit, crit, crit)
    assert [s.hard for s in states] == [Status.OK, Status.OK, Status.OK, crit, crit]
    assert [s.soft for s in states] == [False, True, True, False, False]
    assert [s.changed for s in states] == [False, False, False, True, False]


def test_a_soft_failure_that_recovers_never_changes_state() -> None:
    states = _feed(1, Status.WARNING, Status.OK)
    assert not any(s.changed for s in states)


def test_recovery_and_problem_changes_are_immediate_once_hard() -> None:
    states = _feed(1, Status.WARNING, Status.WARNING, Status.CRITICAL, Status.OK)
    assert [s.hard for s in states] == [Status.OK, Status.WARNING, Status.CRITICAL, Status.OK]
    assert [s.changed for s in states] == [False, True, True, True]


# --- isolation -------------------------------------------------------------------------

ALLOWED = {"psutil", "httpx", "dns"}


def test_the_package_imports_only_stdlib_psutil_httpx_and_dnspython() -> None:
    import sys

    package_dir = Path(steward.checks.__file__).parent
    offenders = []
    for path in sorted(package_dir.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if name.startswith("steward.checks") or top in ALLOWED:
                    continue
                if top == "steward" or top not in sys.stdlib_module_names:
                    offenders.append(f"{path.name}: {name}")
    assert offenders == []
