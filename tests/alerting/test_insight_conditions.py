"""Conditions on the intelligence jobs' results: anomaly, forecast and disk health."""

from __future__ import annotations

import json

import pytest

from steward.alerting import (
    AlertingError,
    Anomaly,
    Condition,
    ConditionInput,
    DiskHealth,
    Engine,
    EngineConfig,
    Forecast,
    GroupTiming,
    Insight,
    NotificationPolicy,
    NotifyAction,
    RecordTransition,
    Rule,
)

TIMING = GroupTiming(group_wait_s=0, group_interval_s=60, repeat_interval_s=3600)
DAY = 86_400.0
DEV = {"organization": "acme", "site": "paris", "device": "web1"}


def engine(*rules: Rule) -> Engine:
    policy = NotificationPolicy("ops", ("pager",), TIMING)
    return Engine(EngineConfig("acme", rules=rules, policies=(policy,)))


def moves(actions) -> list[tuple[str, str]]:
    return [
        (a.transition.from_, a.transition.to) for a in actions if isinstance(a, RecordTransition)
    ]


def firing_titles(actions) -> list[str]:
    return [
        alert.annotations.get("title", "")
        for a in actions
        if isinstance(a, NotifyAction)
        for alert in a.notification.firing
    ]


def cpu_anomaly(ts: float, score: float, text: str = "") -> Insight:
    return Insight("anomaly", "cpu", DEV, ts, score=score, text=text)


def fs(ts: float, mount: str, status: str = "crossing", seconds=None, lower=None, upper=None):
    labels = {**DEV, "mountpoint": mount}
    headline = f"{mount} full in {seconds}"
    return Insight(
        "forecast",
        f"filesystem {mount}",
        labels,
        ts,
        status=status,
        seconds=seconds,
        lower=lower,
        upper=upper,
        text=headline,
    )


ANOMALY_RULE = Rule(
    "cpu-anomaly",
    "Unusual CPU",
    Anomaly(signal="cpu", level=0.5),
    for_s=600,
    policies=("ops",),
    annotations={"title": "CPU on {{ labels.device }}: {{ value }}"},
)


def test_an_anomaly_held_for_the_duration_fires_with_the_detectors_explanation(clock):
    eng = engine(ANOMALY_RULE)
    text = "spike: observed 97, expected 3 to 12"
    assert moves(eng.observe(cpu_anomaly(clock.now, 0.9, text), clock.now)) == [
        ("inactive", "pending")
    ]
    eng.observe(cpu_anomaly(clock.advance(300), 0.7, text), clock.now)
    actions = eng.observe(cpu_anomaly(clock.advance(300), 0.8, text), clock.now)
    assert moves(actions) == [("pending", "firing")]
    assert firing_titles(actions) == [f"CPU on web1: {text}"]
    calm = cpu_anomaly(clock.advance(30), 0.1, "within the expected band")
    actions = eng.observe(calm, clock.now)
    assert moves(actions) == [("firing", "resolved")]


def test_a_short_anomaly_never_fires(clock):
    eng = engine(ANOMALY_RULE)
    eng.observe(cpu_anomaly(clock.now, 0.9), clock.now)
    actions = eng.observe(cpu_anomaly(clock.advance(60), 0.2), clock.now)
    assert moves(actions) == [("pending", "inactive")]


def test_a_stale_judgement_is_no_data_not_a_recovery(clock):
    eng = engine(Rule("a", "Unusual CPU", Anomaly(signal="cpu", stale_s=120), policies=("ops",)))
    eng.observe(cpu_anomaly(clock.now, 0.9), clock.now)
    # The scoring job fell behind: a judgement 10 minutes old arrives.
    actions = eng.observe(cpu_anomaly(clock.now - 600, 0.0), clock.advance(1))
    assert moves(actions) == []
    assert [a.status.value for a in eng.state.alerts.values()] == ["firing"]


def test_metric_anomalies_are_narrowed_by_matchers():
    cond = Anomaly(metric="node_network_receive_bytes_total", matchers=('device=~"eth.*"',))
    eth = Insight("anomaly", cond.metric, {"device": "eth0"}, 100.0, score=0.9)
    lo = Insight("anomaly", cond.metric, {"device": "lo"}, 100.0, score=0.9)
    assert cond.evaluate(ConditionInput(insight=eth), 100.0, False).active is True
    assert cond.evaluate(ConditionInput(insight=lo), 100.0, False).active is None
    assert Condition.from_dict(json.loads(json.dumps(cond.to_dict()))) == cond


@pytest.mark.parametrize(
    "spec",
    [
        {"kind": "anomaly"},
        {"kind": "anomaly", "signal": "cpu", "metric": "x"},
        {"kind": "anomaly", "signal": "cpu", "level": 1.5},
        {"kind": "anomaly", "signal": "cpu", "matchers": ["mode='user'"]},
        {"kind": "forecast", "resource": "memory", "within_s": 0},
        {"kind": "forecast", "resource": "memory", "within_s": 60, "bound": "soon"},
        {"kind": "disk_health", "min_level": "ok"},
    ],
)
def test_bad_conditions_are_refused(spec):
    with pytest.raises(Exception) as exc:
        Condition.from_dict(spec)
    assert isinstance(exc.value, AlertingError | ValueError)


FS_RULE = Rule(
    "fs",
    "Filesystem predicted full",
    Forecast("filesystem *", within_s=3 * DAY),
    policies=("ops",),
    annotations={"title": "{{ labels.mountpoint }} on {{ labels.device }}: {{ value }}"},
)


def test_a_forecast_within_the_horizon_fires_one_alert_per_filesystem(clock):
    eng = engine(FS_RULE)
    actions = eng.observe(fs(clock.now, "/var", seconds=2 * DAY), clock.now)
    actions += eng.observe(fs(clock.now, "/data", seconds=1 * DAY), clock.now)
    actions += eng.observe(fs(clock.now, "/", status="no_trend"), clock.now)
    assert moves(actions) == [("inactive", "firing")] * 2
    titles = sorted(a.annotations["title"] for a in eng.state.alerts.values())
    assert titles == ["/data on web1: /data full in 86400.0", "/var on web1: /var full in 172800.0"]


def test_time_passing_brings_a_distant_crossing_within_the_horizon(clock):
    eng = engine(FS_RULE)
    start = clock.now
    assert moves(eng.observe(fs(start, "/var", seconds=3 * DAY + 3600), start)) == []
    assert eng.next_wakeup() == pytest.approx(start + 3600)
    assert moves(eng.tick(clock.advance(3600 - 60))) == []
    assert moves(eng.tick(clock.advance(60))) == [("inactive", "firing")]


def test_a_forecast_that_flattens_resolves_the_alert(clock):
    eng = engine(FS_RULE)
    eng.observe(fs(clock.now, "/var", seconds=DAY), clock.now)
    actions = eng.observe(fs(clock.advance(600), "/var", status="no_trend"), clock.now)
    assert moves(actions) == [("firing", "resolved")]


@pytest.mark.parametrize(
    ("bound", "active"),
    [("estimate", True), ("early", True), ("late", False)],
)
def test_the_bound_chooses_the_edge_of_the_interval(bound, active):
    cond = Forecast("filesystem /var", within_s=3 * DAY, bound=bound)
    found = fs(0.0, "/var", seconds=2.5 * DAY, lower=2 * DAY, upper=4 * DAY)
    assert cond.evaluate(ConditionInput(insight=found), 0.0, False).active is active


def test_an_unbounded_late_edge_is_never_surely_within():
    cond = Forecast("memory", within_s=7 * DAY, bound="late")
    found = Insight("forecast", "memory", DEV, 0.0, status="crossing", seconds=3600.0)
    assert cond.evaluate(ConditionInput(insight=found), 0.0, False).active is False


def test_already_crossed_is_active_and_other_statuses_never_are():
    cond = Forecast("memory", within_s=DAY)
    for status, active in (
        ("already_crossed", True),
        ("no_trend", False),
        ("beyond_horizon", False),
        ("insufficient_data", False),
    ):
        found = Insight("forecast", "memory", DEV, 0.0, status=status)
        assert cond.evaluate(ConditionInput(insight=found), 10.0, False).active is active


def test_a_rule_on_one_filesystem_ignores_the_others(clock):
    rule = Rule("var", "Var full", Forecast("filesystem /var", within_s=DAY), policies=("ops",))
    eng = engine(rule)
    assert moves(eng.observe(fs(clock.now, "/data", seconds=60.0), clock.now)) == []
    assert moves(eng.observe(fs(clock.now, "/var", seconds=60.0), clock.now)) == [
        ("inactive", "firing")
    ]


def test_disk_health_alerts_from_its_level_with_the_reasons(clock):
    rule = Rule(
        "disk", "Disk failing", DiskHealth(min_level="warning"), policies=("ops",),
        annotations={"title": "{{ value }}"},
    )  # fmt: skip
    eng = engine(rule)
    text = "sdb (ST4000DM000, Z302): disk health warning — 12 pending sectors"
    watch = Insight("disk_health", "sdb", {**DEV, "disk": "sdb"}, clock.now, 0.2, "watch")
    assert moves(eng.observe(watch, clock.now)) == []
    bad = Insight("disk_health", "sdb", {**DEV, "disk": "sdb"}, clock.advance(60), 0.4, "warning",
                  text=text)  # fmt: skip
    actions = eng.observe(bad, clock.now)
    assert firing_titles(actions) == [text]
    unknown = Insight("disk_health", "sdb", {**DEV, "disk": "sdb"}, clock.advance(60), 0, "unknown")
    assert moves(eng.observe(unknown, clock.now)) == []  # no SMART data: no verdict


def test_engine_state_with_insights_round_trips(clock):
    eng = engine(FS_RULE, ANOMALY_RULE)
    eng.observe(fs(clock.now, "/var", seconds=5 * DAY, lower=4 * DAY), clock.now)
    eng.observe(cpu_anomaly(clock.now, 0.9, "spike"), clock.now)
    data = json.loads(json.dumps(eng.to_dict()))
    again = Engine.from_dict(eng.config, data)
    assert again.state.insights == eng.state.insights
    assert again.next_wakeup() == eng.next_wakeup()
    # A state written before insights existed still loads.
    del data["insights"]
    assert Engine.from_dict(eng.config, data).state.insights == {}


def test_old_insights_are_forgotten_after_the_input_retention(clock):
    eng = engine(FS_RULE)
    eng.observe(fs(clock.now, "/var", status="no_trend"), clock.now)
    eng.tick(clock.advance(2 * DAY))
    assert eng.state.insights == {}
