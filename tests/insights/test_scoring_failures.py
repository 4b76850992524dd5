"""Scoring and forecasting runs that fail midway: nothing is lost, no one else is stopped.

* The derived signals (CPU busy %, used memory) are built from the new samples of their
  families. Their families' cursors must not move before the signals' outputs are in the
  store, or a run that fails in between (the store's disk full, a worker killed) leaves
  a gap in ``steward_anomaly_score`` and the bands that no later run fills.
* One organization whose run raises must not stop the runs of the others.
"""

from __future__ import annotations

import pytest

from steward.insights import forecasting, jobs, scoring
from steward.insights.models import DetectorState, Forecast
from steward.tsdb.types import METRIC_NAME, Matcher, MatchOp
from tests.insights.conftest import NOW_MS
from tests.insights.data import CPU_META, cpu, gauge, noisy

pytestmark = pytest.mark.django_db
MIN = 60_000
START = NOW_MS - 30 * MIN


class DiskFull(Exception):
    """Stands in for the store refusing a write."""


def _fill(store, device, org_id, start=START, end=NOW_MS):
    store.set_metadata(org_id, [CPU_META])
    store.append(org_id, cpu(device, start, end, lambda t: 0.3))
    for name, level in (
        ("node_memory_MemTotal_bytes", 8e9),
        ("node_memory_MemAvailable_bytes", 5e9),
    ):
        store.append(org_id, gauge(device, name, start, end, noisy(level, 1e7)))


def _stamps(store, org_id, name, signal):
    matchers = [Matcher(METRIC_NAME, MatchOp.EQ, name), Matcher("signal", MatchOp.EQ, signal)]
    [series] = store.select([org_id], matchers, START, NOW_MS + MIN)
    return list(series.timestamps)


def test_a_run_whose_outputs_are_not_stored_is_redone(store, world, monkeypatch):
    org = world.acme
    _fill(store, world.acme_device, org.pk)
    scoring.score_organization(store, org.pk, org.slug, NOW_MS - 15 * MIN)
    append = store.append

    def full(org_id, samples):
        raise DiskFull("database or disk is full")

    with monkeypatch.context() as patch:
        patch.setattr(store, "append", full)
        with pytest.raises(DiskFull):
            scoring.score_organization(store, org.pk, org.slug, NOW_MS)
    assert store.append == append
    scoring.score_organization(store, org.pk, org.slug, NOW_MS)
    # Every sample of the signals has its score, without a gap. (The first run reads
    # from after START, and the first CPU sample it reads has no rate.)
    assert _stamps(store, org.pk, scoring.ANOMALY_SCORE, "cpu") == list(
        range(START + 20_000, NOW_MS, 10_000)
    )
    assert _stamps(store, org.pk, scoring.ANOMALY_SCORE, "memory") == list(
        range(START + 10_000, NOW_MS, 10_000)
    )


def test_one_organization_failing_does_not_stop_the_others(store, world, monkeypatch):
    _fill(store, world.acme_device, world.acme.pk)
    _fill(store, world.globex_device, world.globex.pk)
    score = scoring.score_organization

    def broken(store, org_id, slug, now_ms, result=None):
        if org_id == world.acme.pk:
            raise RuntimeError("a bug in one organization's data")
        return score(store, org_id, slug, now_ms, result)

    monkeypatch.setattr(scoring, "score_organization", broken)
    orgs = [(world.acme.pk, world.acme.slug), (world.globex.pk, world.globex.slug)]
    result = scoring.score_all(store, orgs, NOW_MS)
    assert result.failed == [world.acme.pk]
    assert result.organizations == 1
    assert DetectorState.objects.filter(organization=world.globex).exists()
    assert not DetectorState.objects.filter(organization=world.acme).exists()


def test_one_organization_failing_does_not_stop_the_others_forecasts(store, world, monkeypatch):
    now = store.clock.now_ms
    for org, device in ((world.acme, world.acme_device), (world.globex, world.globex_device)):
        store.append(
            org.pk,
            gauge(device, "node_memory_MemTotal_bytes", now - 3 * 60 * MIN, now, lambda t: 8e9),
        )
        store.append(
            org.pk,
            gauge(
                device,
                "node_memory_MemAvailable_bytes",
                now - 3 * 60 * MIN,
                now,
                lambda t: 5e9 - 1e4 * (t - now / 1000),
            ),
        )
    forecast = forecasting.forecast_organization

    def broken(store, org_id, now_ms):
        if org_id == world.acme.pk:
            raise RuntimeError("a bug in one organization's data")
        return forecast(store, org_id, now_ms)

    monkeypatch.setattr(forecasting, "forecast_organization", broken)
    monkeypatch.setattr(jobs.time, "time", lambda: now / 1000)
    jobs.compute_forecasts()
    assert Forecast.objects.filter(organization=world.globex).exists()
