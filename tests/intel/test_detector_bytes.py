"""SingleScaleDetector.to_bytes/from_bytes: the same bytes for the same state, in every format.

The scoring job restores and stores a detector per series per run (feeding it a few samples in
between), so the codec is fast, but it must stay exact: a state stored again unchanged is the
same blob, and a detector stored and restored after every sample decides as one never stored.
"""

from __future__ import annotations

import math
import random
import struct

import pytest

from steward.intel import detector as detector_module
from steward.intel.detector import SingleScaleDetector
from tests.intel.test_detector_format5 import FIXTURES
from tests.intel.test_detector_format6 import FORMAT5

STEP = 300.0  # 5-minute samples
DAY = 86400.0
PER_DAY = 288
HEAD = 497  # bytes before the daily memories: version, count, scalars, ..., first tail copy
TAIL = 128  # bytes of one tail copy (16 doubles), the last part of the head


def eventful(days: int, seed: int = 7) -> list[tuple[float, float]]:
    """A daily cycle with a nightly spike, a noisy afternoon and a level shift on the last day."""
    rng = random.Random(seed)
    rows = []
    for i in range(days * PER_DAY):
        t = i * STEP
        v = 50.0 + 20.0 * math.sin(2 * math.pi * t / DAY) + rng.gauss(0.0, 1.0)
        of_day = i % PER_DAY
        if of_day == 39:  # 03:15
            v += 20.0
        if 14 * 12 <= of_day < 15 * 12 and i // PER_DAY == 2:
            v += rng.gauss(0.0, 8.0)
        if i >= (days - 1) * PER_DAY + 150:
            v += 15.0
        rows.append((t, v))
    return rows


def test_a_stored_state_is_stored_again_as_the_same_bytes() -> None:
    rows = eventful(4)
    det = SingleScaleDetector()
    seen = {det.to_bytes()}
    for k, (t, v) in enumerate(rows):
        det.update(t, v)
        if k < 30 or k % 97 == 0:
            seen.add(det.to_bytes())
    assert len(seen) > 40
    for blob in seen:
        assert blob[0] == 6 and len(blob) == 1137
        assert SingleScaleDetector.from_bytes(blob).to_bytes() == blob
        assert SingleScaleDetector.from_bytes(memoryview(blob)).to_bytes() == blob  # as PostgreSQL


def test_a_format_5_state_is_stored_as_format_6_with_its_tail_in_each_copy() -> None:
    again = SingleScaleDetector.from_bytes(FORMAT5).to_bytes()

    assert again[0] == 6 and again[1:881] == FORMAT5[1:]
    assert again[881:] == FORMAT5[HEAD - TAIL : HEAD] * 2


def test_a_format_4_state_is_stored_as_format_6_with_an_empty_spike_memory() -> None:
    old = (FIXTURES / "format4_state.bin").read_bytes()
    assert old[0] == 4 and len(old) == 785

    again = SingleScaleDetector.from_bytes(old).to_bytes()

    assert again[0] == 6 and again[1:785] == old[1:]
    assert again[785:881] == bytes(96)  # spike_today, spike_daily: 48 two-byte zeros
    assert again[881:] == old[HEAD - TAIL : HEAD] * 2
    assert SingleScaleDetector.from_bytes(again).to_bytes() == again


@pytest.mark.parametrize("start", ["fresh", "format 5", "format 4"])
def test_a_detector_stored_and_restored_after_every_sample_decides_as_one_never_stored(
    start: str,
) -> None:
    if start == "fresh":
        blob, rows = SingleScaleDetector().to_bytes(), eventful(4)
    else:
        blob = FORMAT5 if start == "format 5" else (FIXTURES / "format4_state.bin").read_bytes()
        t0 = SingleScaleDetector.from_bytes(blob).last_time + STEP
        rows = [(t0 + t, v) for t, v in eventful(3)]
    kept = SingleScaleDetector.from_bytes(blob)
    expected = [kept.update(t, v) for t, v in rows]
    assert any(v.is_anomaly for v in expected)  # the verdicts are worth comparing

    verdicts = []
    for t, v in rows:
        det = SingleScaleDetector.from_bytes(blob)
        verdicts.append(det.update(t, v))
        blob = det.to_bytes()

    assert verdicts == expected
    assert blob == kept.to_bytes()


def test_restored_detectors_learn_at_the_rates_of_the_module_constants(monkeypatch) -> None:
    # Tuning scripts (bench/_nab*.py) change the module's constants at runtime.
    blob = SingleScaleDetector().to_bytes()
    tuned = SingleScaleDetector.from_bytes(blob).rates
    assert SingleScaleDetector().rates == tuned

    monkeypatch.setattr(detector_module, "TAIL_STEP", detector_module.TAIL_STEP * 1.1)
    monkeypatch.setattr(detector_module, "TAIL_SPREAD", 2.0)
    step, alpha, q = detector_module.TAIL_STEP, detector_module.TAIL_ALPHA, detector_module.TAIL_Q
    expected = tuple(
        (o, s * q, s * (1.0 - q), a)
        for o, (s, a) in zip(
            (0, 16, 32),
            ((step, alpha), (step * 0.5, alpha * 2.0), (step * 2.0, alpha * 0.5)),
            strict=True,
        )
    )
    assert SingleScaleDetector().rates == expected
    assert SingleScaleDetector.from_bytes(blob).rates == expected

    monkeypatch.undo()
    assert SingleScaleDetector.from_bytes(blob).rates == tuned


@pytest.mark.parametrize("value", [-1.0, 64.0, math.nan, math.inf])
def test_a_daily_memory_two_bytes_cannot_hold_is_refused(value: float) -> None:
    det = SingleScaleDetector()
    det.update(0.0, 1.0)
    det.daily_max[5] = value
    with pytest.raises((struct.error, ValueError, OverflowError)):
        det.to_bytes()


def test_a_memory_is_stored_rounded_to_the_nearest_two_byte_step() -> None:
    det = SingleScaleDetector()
    det.spike_daily[:4] = [0.4 / 1024, 0.5 / 1024, 1.5 / 1024, 2.6 / 1024]
    restored = SingleScaleDetector.from_bytes(det.to_bytes())
    assert restored.spike_daily[:4] == [0.0, 0.0, 2 / 1024, 3 / 1024]  # half to even


def test_a_subclass_with_its_own_init_gets_it_run_on_a_restore() -> None:
    class Tagged(SingleScaleDetector):
        __slots__ = ("tag",)

        def __init__(self) -> None:
            super().__init__()
            self.tag = "mine"

    det = Tagged.from_bytes(FORMAT5)
    assert isinstance(det, Tagged) and det.tag == "mine"
    assert det.to_bytes() == SingleScaleDetector.from_bytes(FORMAT5).to_bytes()
