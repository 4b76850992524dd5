"""``steward devices forecasts|anomalies|disk-health`` against a live server: what the
console's device page shows, from the command line."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from steward.accounts.models import ApiToken
from steward.cli.main import main
from steward.insights.models import DetectorState, Forecast
from steward.insights.scoring import verdict_dict
from steward.insights.window import Window
from steward.intel import StreamDetector, Verdict
from tests.insights.conftest import NOW_MS
from tests.insights.data import device_labels

HOUR = 3600


@pytest.fixture
def as_technician(live_server, world, monkeypatch, tmp_path):
    """The CLI pointed at the live server with an Acme technician's token."""
    _, secret = ApiToken.issue(world.technician, "cli")
    monkeypatch.setenv("STEWARD_CLIENT_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("STEWARD_URL", live_server.url)
    monkeypatch.setenv("STEWARD_TOKEN", secret)
    return live_server


def make_forecast(device, mountpoint: str, status: str, **fields) -> Forecast:
    now = timezone.now()
    return Forecast.objects.create(
        organization=device.organization,
        device=device,
        resource=f"filesystem {mountpoint}",
        kind="filesystem",
        labels={"mountpoint": mountpoint},
        status=status,
        confidence=0.9,
        as_of=now - timedelta(minutes=1),
        computed_at=now,
        **fields,
    )


def make_state(device, metric: str, labels: dict[str, str], verdict: Verdict, **fields):
    """A detector row as the scoring job leaves it, with ``window`` counts if given."""
    flagged, scored = fields.pop("flagged", 0), fields.pop("scored", 0)
    window = Window()
    for i in range(scored):
        window.add(NOW_MS - 1000 * i, flagged=i < flagged)
    full = {**device_labels(device), "__name__": metric, **labels}
    return DetectorState.objects.create(
        organization=device.organization,
        series_key=f"{metric}:{sorted(labels.items())}",
        metric=metric,
        device_id=device.pk,
        labels=full,
        state=StreamDetector().to_bytes(),
        cursor_ms=NOW_MS,
        last_score=verdict.score,
        last_verdict=verdict_dict(verdict, NOW_MS),
        window=window.to_bytes(),
        **fields,
    )


def lines(capsys) -> list[str]:
    return capsys.readouterr().out.splitlines()


@pytest.mark.django_db(transaction=True)
def test_forecasts_table_and_json(as_technician, world, capsys):
    device = world.acme_device
    make_forecast(
        device,
        "/var",
        "crossing",
        seconds=30 * HOUR,
        lower=28 * HOUR,
        upper=32 * HOUR,
        reason="shrinking 2 GiB a day",
    )
    make_forecast(device, "/data", "no_trend", reason="slope not significant")

    assert main(["devices", "forecasts", "acme-ws-01"]) == 0
    header, *rows = lines(capsys)
    assert header.split() == ["RESOURCE", "STATUS", "HEADLINE", "REASON"]
    assert rows[0].split("  ")[0] == "filesystem /data"
    assert "/data: no trend" in rows[0] and "slope not significant" in rows[0]
    assert "crossing" in rows[1]
    assert "/var full in 1 d 6 h (1 d 4 h to 1 d 8 h)" in rows[1]
    assert rows[1].endswith("shrinking 2 GiB a day")

    assert main(["devices", "forecasts", str(device.pk), "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert [(f["resource"], f["status"], f["seconds"]) for f in body] == [
        ("filesystem /data", "no_trend", None),
        ("filesystem /var", "crossing", 30 * HOUR),
    ]


@pytest.mark.django_db(transaction=True)
def test_anomalies_table_compacts_labels_and_shows_the_rate(as_technician, world, capsys):
    device = world.acme_device
    make_state(
        device,
        "node_cpu_seconds_total",
        {"cpu": "0", "mode": "user"},
        Verdict(0.8, True, 93.0, 10.0, 30.0, "spike above expected band", 0.999),
        scored=40,
        flagged=1,
    )
    make_state(device, "node_load1", {}, Verdict(0.1, False, 1.0, 0.5, 2.0, "normal", 0.3))

    assert main(["devices", "anomalies", "acme-ws-01"]) == 0
    header, first, second = lines(capsys)
    assert header.split() == ["METRIC", "LABELS", "SCORE", "RATE", "EXPLANATION"]
    assert first.split()[:5] == ["node_cpu_seconds_total", "cpu=0,mode=user", "0.80", "2.5", "%"]
    assert first.endswith("spike above expected band: observed 93, expected 10 to 30")
    # A series with only the labels every series of the device shares: no labels to show.
    assert second.split()[:5] == ["node_load1", "-", "0.10", "0.0", "%"]
    assert second.endswith("within the expected band")

    assert main(["devices", "anomalies", "acme-ws-01", "--min-score", "0.5", "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert [a["metric"] for a in body] == ["node_cpu_seconds_total"]
    assert body[0]["labels"]["steward_device"] == str(device.pk)  # as the API sends it
    assert body[0]["anomaly_rate"] == 2.5

    assert main(["devices", "anomalies", "acme-ws-01", "--limit", "1"]) == 0
    assert len(lines(capsys)) == 2


@pytest.mark.django_db(transaction=True)
def test_empty_results_say_so_in_one_line_or_print_an_empty_list(
    as_technician, world, open_real_store, capsys
):
    open_real_store(clock=lambda: NOW_MS)
    cases = [
        ("forecasts", "no forecasts yet for acme-ws-01: they need a few hours of metrics"),
        ("anomalies", "no scored series for acme-ws-01: the detectors need a few minutes"),
        ("disk-health", "no SMART data from acme-ws-01 in the last 30 minutes"),
    ]
    for command, message in cases:
        assert main(["devices", command, "acme-ws-01"]) == 0
        out = lines(capsys)
        assert len(out) == 1 and out[0].startswith(message), out
        assert main(["devices", command, "acme-ws-01", "--json"]) == 0
        assert json.loads(capsys.readouterr().out) == []


@pytest.mark.django_db(transaction=True)
def test_disk_health_lists_disks_that_sent_smart_data(
    as_technician, world, open_real_store, capsys
):
    from steward.tsdb.types import Sample

    store = open_real_store(clock=lambda: NOW_MS)
    labels = {**device_labels(world.acme_device), "device": "sda"}
    store.append(
        world.acme.pk,
        [
            Sample({**labels, "__name__": "smartctl_device_smartctl_exit_status"}, NOW_MS, 0.0),
            Sample({**labels, "__name__": "smartctl_device_smart_status", "model": "AcmeDisk",
                    "serial": "ACME-1"}, NOW_MS, 1.0),
        ],
    )  # fmt: skip

    assert main(["devices", "disk-health", "acme-ws-01"]) == 0
    header, row = lines(capsys)
    assert header.split() == ["DISK", "LEVEL", "MODEL", "SERIAL", "SUMMARY"]
    assert row.split()[0] == "sda"
    assert row.split()[2:4] == ["AcmeDisk", "ACME-1"]


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--min-score", "1.5"], "--min-score: expected a score between 0 and 1"),
        (["--min-score", "-0.1"], "--min-score: expected a score between 0 and 1"),
        (["--min-score", "nan"], "--min-score: expected a score between 0 and 1"),
        (["--limit", "0"], "--limit: expected a number between 1 and 1000"),
        (["--limit", "1001"], "--limit: expected a number between 1 and 1000"),
    ],
)
def test_bad_anomaly_options_are_exit_2_before_any_request(monkeypatch, capsys, option, message):
    # Nothing listens on the discard port: a request would fail with "cannot reach" (exit 1).
    monkeypatch.setenv("STEWARD_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("STEWARD_TOKEN", "unused")
    assert main(["devices", "anomalies", "acme-ws-01", *option]) == 2
    err = capsys.readouterr().err
    assert message in err and "cannot reach" not in err


@pytest.mark.django_db(transaction=True)
def test_a_device_of_another_organization_is_not_found(as_technician, world, capsys):
    make_forecast(world.globex_device, "/globex-secret", "no_trend")
    for command in ("forecasts", "anomalies", "disk-health"):
        assert main(["devices", command, "globex-srv-01"]) == 1
        assert "no device with host name 'globex-srv-01'" in capsys.readouterr().err
        assert main(["devices", command, str(world.globex_device.pk), "--json"]) == 1
        captured = capsys.readouterr()
        assert "404" in captured.err and "globex-secret" not in captured.out
