"""SingleScaleDetector state format 6: three copies of each tail model, and the median copy decides.

And the upgrade path: a state stored by format 5 (embedded below) still loads, keeps what it
learned (its one tail per view seeds all three copies) and goes on finding what format 5 found.
"""

from __future__ import annotations

import base64
import math
import random

import pytest

from steward.intel.detector import SingleScaleDetector

STEP = 300.0  # 5-minute samples
DAY = 86400.0
PER_DAY = 288

# to_bytes() of format 5 (881 bytes) after 4 days and 2 hours of
# 50 + 20 sin(2 pi t / 1 day) + N(0, 1) drawn with random.Random(11), one sample each 5 min
# from t=0 (see _rows); format 5 then alarmed on the lift of 15 from 12:00 to 14:00 that day
# at its first sample (continuation index 144) and nowhere else.
FORMAT5 = base64.b64decode(
    "BZgEAAAAAAAA6/LLm+r7TEAwuF9+4jT7P3RrTjKIh0ZAs/EozlG/9D8H2IW2HVQBQK74w8iVP/o/KAh0y7i9MUAA"
    "AAAAAAA0QAAAAADQgxVBAAAAAAAAEEAApg6OjR3jPwAn7KkyB/0/gNq3VCf3B0CwYX7NRpUIQFBh2arj/wtAABNc"
    "X55IAUAA6OQHX+jvP8CZwbTB0wRAq9C/ueunI0CHCdnnMogqQMf/E5BBrC9A7ybPeBlRMUAXnyHVsvkxQGYF4KPM"
    "HjFAvfptb6ekLkCSvL0gXhIoQDmE6mdltCBAe0ClcQ2tDUA7JDjF51Pzv6Duq+4jDBjABTjsR1q+JMBO60m8aqMq"
    "wHGnjUm2si/AxPRuS35SMcA3mcN/so4xwBQRSbXmCzHAMqRJBuMALsCM4K46nmkowFWdLgrtFR7AWVewOb5/DcCK"
    "Qsnt4K/uP5zV04vUAhVABAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE6GWqYFRS8z/rtW7zbg6yPz2vhb3H14A/AAAA"
    "AAAIkkAk+qnx0k3uP7afvdjhTJg/WMdFhBeXUj8AAAAAAAySQGmDwMqhRfQ/pvd6nVL1wT+S/pWHTmafPwAAAAAA"
    "DJJAIhXZzvdT2z+/gxwEe6iQP86REki1+0A/AAAAAAAMkkDAA80DAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAABBUYEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAt"
    "AVABAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAbLYQDZQP9ApcCJwLJAXcClwJN"
    "A4sDAASeA1MDQwNfA5UCBwJaARYCRAMAA2YDggN0CiEI3QX7BKUE3ASIBK4FsQUFBCEEgQUrBSgEnATlAy4E3ARx"
    "BDIG9gXyBRAFwAXwA7MDSgMIA5cCEwLUAfgB5wEGAgsCKQIOAgEC7wGJAVcBJgF5Ac0B7wG5ADwBbQHFBIMEAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAArMxAF6QRPBKoDuQOZA0sEuwNLBIsEbQXP"
    "BIkEzQSkBPMDLgQKBLsDzATfBAYFeAU="
)
CUT = 4 * PER_DAY + 24
LIFT = range(12 * 12, 14 * 12)  # continuation indices of the lift


def _rows() -> list[tuple[float, float]]:
    rng = random.Random(11)
    rows = []
    for i in range(5 * PER_DAY):
        t = i * STEP
        rows.append((t, 50.0 + 20.0 * math.sin(2 * math.pi * t / DAY) + rng.gauss(0.0, 1.0)))
    return rows


def _continuation() -> list[tuple[float, float]]:
    return [(t, v + (15.0 if k in LIFT else 0.0)) for k, (t, v) in enumerate(_rows()[CUT:])]


def test_a_format_5_state_loads_from_bytes_and_json_and_finds_what_format_5_found() -> None:
    assert FORMAT5[0] == 5 and len(FORMAT5) == 881
    det = SingleScaleDetector.from_bytes(FORMAT5)
    assert det.count == CUT
    one = det.tail[:16]
    assert det.tail == one * 3  # the stored tail seeds all three copies
    assert any(det.spike_daily)  # format 5's spike memory is kept
    # the same state as format-5 JSON
    data = det.to_dict()
    data["version"] = 5
    data["tail"] = one
    from_json = SingleScaleDetector.from_dict(data)
    assert from_json.to_bytes() == det.to_bytes()
    for restored in (det, from_json):
        verdicts = [restored.update(t, v) for t, v in _continuation()]
        assert [i for i, v in enumerate(verdicts) if v.is_anomaly] == [144]
    # the copies drift apart as they learn at their own rates
    assert det.tail[:16] != det.tail[16:32] != det.tail[32:]
    again = det.to_bytes()
    assert again[0] == 6 and len(again) == 1137
    assert SingleScaleDetector.from_bytes(again).to_bytes() == again


def test_a_fresh_detector_finds_the_lift_once() -> None:
    det = SingleScaleDetector()
    rows = _rows()
    for t, v in rows[:CUT]:
        det.update(t, v)
    verdicts = [det.update(t, v) for t, v in _continuation()]
    onsets = [i for i, v in enumerate(verdicts) if v.is_anomaly]
    assert onsets and onsets[0] in LIFT[:3]
    assert all(i in LIFT for i in onsets)


def test_the_median_copy_decides() -> None:
    det = SingleScaleDetector.from_bytes(FORMAT5)  # all three copies are format 5's tail
    one = det.tail[:16]
    alarmist = [0.0, 1e-3, 2e-6, 1e4] * 4  # a tail for which anything above 0 is extreme
    deaf = [1e3, 0.1, 0.02, 1e4] * 4  # a tail for which nothing is above its quantile
    t, v = _continuation()[0]
    v += 15.0  # the lift, a day early: format 5 alarms on it
    base = SingleScaleDetector.from_bytes(det.to_bytes()).update(t, v).score
    assert base >= 0.5

    def score(tail: list[float]) -> float:
        probe = SingleScaleDetector.from_bytes(det.to_bytes())
        probe.tail = list(tail)
        return probe.update(t, v).score

    # one copy alone can neither raise nor lower the score, whichever it is ...
    assert score(one + one + alarmist) == base
    assert score(alarmist + one + one) == base
    assert score(deaf + one + one) == base
    assert score(one + deaf + one) == base
    # ... two that agree decide
    assert score(one + alarmist + alarmist) > base
    assert score(one + deaf + deaf) == 0.0


def test_a_format_6_blob_with_a_wrong_length_or_version_is_refused() -> None:
    det = SingleScaleDetector()
    det.update(0.0, 1.0)
    blob = det.to_bytes()
    for bad in (
        blob[:881],
        blob[:-8],
        blob + b"\0",
        bytes([5]) + blob[1:],
        bytes([6]) + FORMAT5[1:],
    ):
        with pytest.raises(ValueError):
            SingleScaleDetector.from_bytes(bad)
