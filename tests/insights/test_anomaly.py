"""An injected CPU anomaly in stored data: high score, a named pattern, band and marker."""

from __future__ import annotations

import random

import pytest

from steward.insights import scoring, services
from steward.insights.models import SIGNAL_CPU, SIGNAL_MEMORY
from steward.tsdb.types import METRIC_NAME, Matcher, MatchOp
from tests.insights.conftest import NOW_MS
from tests.insights.data import CPU_META, cpu, gauge

pytestmark = pytest.mark.django_db
MIN = 60_000
START = NOW_MS - 150 * MIN  # 2.5 h of history: 1 h of learning, then a band
SPIKE = NOW_MS - 3 * MIN


def busy(seed: int = 3):
    rng = random.Random(seed)
    return lambda t: 0.95 if t * 1000 >= SPIKE else 0.20 + 0.04 * rng.random()


@pytest.fixture
def history(store, world):
    device = world.acme_device
    store.set_metadata(world.acme.pk, [CPU_META])
    store.append(world.acme.pk, cpu(device, START, NOW_MS, busy()))
    rng = random.Random(5)
    for name, value in (
        ("node_memory_MemTotal_bytes", lambda t: 8e9),
        ("node_memory_MemAvailable_bytes", lambda t: 5e9 + 5e7 * rng.random()),
    ):
        store.append(world.acme.pk, gauge(device, name, START, NOW_MS, value))
    # The worker ran every 30 min while the data arrived (each run reads <= 1 h).
    for now in [*range(START + 15 * MIN, NOW_MS, 30 * MIN), NOW_MS]:
        scoring.score_organization(store, world.acme.pk, world.acme.slug, now)
    return store


def select(store, world, name, **labels):
    matchers = [Matcher(METRIC_NAME, MatchOp.EQ, name)]
    matchers += [Matcher(k, MatchOp.EQ, v) for k, v in labels.items()]
    return store.select([world.acme.pk], matchers, START, NOW_MS + MIN)


def test_a_cpu_burst_is_flagged_with_a_pattern_and_an_explanation(history, world):
    state = services.signal_anomaly(world.acme.pk, SIGNAL_CPU, world.acme_device.pk)

    assert state is not None
    anomaly = state.last_anomaly
    assert anomaly is not None and anomaly["ts"] >= SPIKE
    assert anomaly["raw_score"] >= 0.5
    assert anomaly["pattern"] in ("spike above expected band", "level shift up")
    assert anomaly["observed"] == pytest.approx(95.0, abs=0.5)
    assert anomaly["expected_high"] < 50.0
    assert state.anomaly_rate > 0.0
    assert "observed" in state.explanation or state.pattern == "normal"


def test_the_burst_shows_in_the_per_series_scores_too(history, world):
    states = services.anomaly_state(
        world.acme.pk,
        [
            Matcher(METRIC_NAME, MatchOp.EQ, "node_cpu_seconds_total"),
            Matcher("mode", MatchOp.EQ, "user"),
        ],
    )
    assert len(states) == 2  # two cores
    for s in states:
        assert s.last_anomaly is not None and s.last_anomaly["ts"] >= SPIKE


def test_the_band_markers_and_anomaly_rate_are_in_the_store(history, world):
    device = str(world.acme_device.pk)
    low = select(history, world, "steward_expected_low", steward_device=device, signal="cpu")
    high = select(history, world, "steward_expected_high", steward_device=device, signal="cpu")
    marks = select(history, world, "steward_anomaly_observed", steward_device=device, signal="cpu")
    rate = select(
        history,
        world,
        "steward_anomaly_rate",
        steward_device=device,
        metric="node_cpu_seconds_total",
    )

    assert len(low) == len(high) == 1
    # The band starts after the learning period (360 samples of the signal).
    first_band = low[0].timestamps[0]
    assert first_band >= START + 60 * MIN
    assert low[0].labels["steward_org"] == world.acme.slug
    assert len(marks) == 1 and max(marks[0].timestamps) >= SPIKE
    assert len(rate) == 1 and rate[0].values[-1] > 0.0
    mem_band = select(
        history, world, "steward_expected_high", steward_device=device, signal=SIGNAL_MEMORY
    )
    assert len(mem_band) == 1


def test_the_chart_queries_read_the_band_through_promql(history, world):
    from steward.promql import evaluate_range

    expr = f'steward_expected_high{{steward_device="{world.acme_device.pk}",signal="cpu"}}'
    result = evaluate_range(expr, NOW_MS - 30 * MIN, NOW_MS, 60_000, history, [world.acme.pk])
    assert len(result.series) == 1
    outsider = evaluate_range(expr, NOW_MS - 30 * MIN, NOW_MS, 60_000, history, [world.globex.pk])
    assert outsider.series == []


def test_the_cpu_band_stays_within_0_and_100_percent():
    from steward.insights.scoring import band_limits

    assert band_limits(SIGNAL_CPU, -12.5, 130.0) == (0.0, 100.0)
    assert band_limits(SIGNAL_CPU, 10.0, 30.0) == (10.0, 30.0)
    assert band_limits(SIGNAL_MEMORY, -1e9, 5e9) == (0.0, 5e9)


def test_the_stored_cpu_band_is_a_possible_share(history, world):
    for name in ("steward_expected_low", "steward_expected_high"):
        (series,) = select(history, world, name, signal=SIGNAL_CPU)
        assert len(series.values) > 100
        assert all(0.0 <= v <= 100.0 for v in series.values)


@pytest.mark.django_db(False)
def test_a_judgement_of_a_block_mean_says_so_in_its_explanation():
    verdict = scoring.Verdict(0.9, True, 41.25, 20.1, 28.4, "level shift up", 0.99999, span=12)
    stored = scoring.verdict_dict(verdict, NOW_MS)
    assert stored["span"] == 12 and scoring._onset(verdict, NOW_MS)["span"] == 12
    assert services.explain("level shift up", 41.25, 20.1, 28.4, stored["span"]) == (
        "level shift up over the last 12 samples: mean 41.25, expected 20.1 to 28.4"
    )
    assert services.explain("spike above expected band", 95.1, 17.8, 26.3) == (
        "spike above expected band: observed 95.1, expected 17.8 to 26.3"
    )


def test_the_device_page_lists_the_unusual_series_with_their_rate_and_explanation(history, world):
    from django.test import Client

    from tests.server.conftest import PASSWORD

    client = Client()
    client.login(email=world.viewer.email, password=PASSWORD)
    page = client.get(f"/devices/{world.acme_device.pk}/").content.decode()

    panel = page[
        page.index('id="anomalies-h"') : page.index("</section>", page.index('id="anomalies-h"'))
    ]
    assert "% of this device&#x27;s samples unusual in the last hour" in panel or (
        "% of this device's samples unusual in the last hour" in panel
    )
    assert "CPU busy (% of all cores)" in panel  # the derived signal, named for people
    assert "above expected band: observed 9" in panel or "level shift up: observed 9" in panel
    assert "steward_device=" not in panel and "instance=" not in panel


def test_the_anomalies_panel_says_when_nothing_has_been_scored_yet(world):
    from django.test import Client

    from tests.server.conftest import PASSWORD

    client = Client()
    client.login(email=world.viewer.email, password=PASSWORD)
    page = client.get(f"/devices/{world.acme_device.pk}/").content.decode()

    assert 'id="anomalies-h"' in page and "No anomaly scores yet" in page
