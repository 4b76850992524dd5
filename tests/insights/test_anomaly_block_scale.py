"""A small CPU change that lasts: no single sample stands out, the 12-sample means do.

The real scoring job runs on stored CPU counters, as the worker would: eight hours of a
machine at about 30 % busy (Gaussian noise, sd 2 points), then 40 minutes at 2 points more.
No sample of those 40 minutes is unusual on its own; their means are (detector format 8).
"""

from __future__ import annotations

import random

import pytest

from steward.insights import scoring, services
from steward.insights.models import SIGNAL_CPU
from steward.intel.detector import COARSE_BLOCK
from tests.insights.conftest import NOW_MS
from tests.insights.data import CPU_META, cpu

pytestmark = pytest.mark.django_db
MIN = 60_000
START = NOW_MS - 8 * 60 * MIN
SHIFT = NOW_MS - 40 * MIN


def busy(lift: float):
    rng = random.Random(5)
    return lambda t: 0.30 + (lift if t * 1000 >= SHIFT else 0.0) + rng.gauss(0.0, 0.02)


def score_until(store, world, until_ms: int) -> None:
    for now in (*range(START + 30 * MIN, SHIFT, 30 * MIN), *range(SHIFT, until_ms + 1, MIN)):
        scoring.score_organization(store, world.acme.pk, world.acme.slug, now)


@pytest.mark.parametrize("lift", [0.0, 0.02])
def test_a_lasting_two_point_lift_is_an_anomaly_of_the_block_means(store, world, lift):
    org_id = world.acme.pk
    store.set_metadata(org_id, [CPU_META])
    store.append(org_id, cpu(world.acme_device, START, NOW_MS, busy(lift)))
    score_until(store, world, NOW_MS)

    state = services.signal_anomaly(org_id, SIGNAL_CPU, world.acme_device.pk)
    assert state is not None and state.samples_seen > 300
    onset = state.last_anomaly
    if not lift:  # the same noise without the lift: nothing in the last 40 minutes
        assert onset is None or onset["ts"] < SHIFT
        return
    assert onset is not None and onset["ts"] >= SHIFT
    assert onset["span"] == COARSE_BLOCK
    text = services.explain(
        onset["pattern"],
        onset["observed"],
        onset["expected_low"],
        onset["expected_high"],
        onset["span"],
    )
    assert f"over the last {COARSE_BLOCK} samples: mean 3" in text  # percent busy, about 32
