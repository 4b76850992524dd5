"""Rule definitions for the alerts app's default pack (``steward.alerts.defaults.PACK``).

Data only, in the pack's own shape, for the alerts engineer to append; the condition kinds
``anomaly`` and ``forecast`` are theirs to implement with ``steward.insights.services``
(docs/intelligence.md, "Alert conditions", gives the evaluation of each field).
"""

from __future__ import annotations

from typing import Any

FILESYSTEM_PREDICTED_FULL: dict[str, Any] = {
    "key": "filesystem-predicted-full",
    "name": "Filesystem predicted full",
    "condition": {
        "kind": "forecast",
        "resource": "filesystem *",  # every filesystem of the device; one alert per resource
        "within_s": 3 * 86_400.0,
        "bound": "estimate",  # or "early" (warn sooner) / "late" (only when surely full)
        "confidence": 0.8,  # the interval the job computes; informative, not a filter
    },
    "severity": "warning",
    "annotations": {
        "title": "{{ labels.mountpoint }} on {{ labels.device }} predicted full within 3 days",
        # e.g. "/var full in 2 d 4 h (1 d 20 h to 2 d 15 h)" (present.headline)
        "description": "{{ annotations.forecast }}",
    },
}

MEMORY_LEAK: dict[str, Any] = {
    "key": "memory-leak",
    "name": "Memory leak",
    "condition": {
        "kind": "forecast",
        "resource": "memory",  # MemAvailable over the last 6 h, see forecasting.MEM_WINDOW_MS
        "within_s": 7 * 86_400.0,  # a significant fall that runs out within a week
        "bound": "estimate",
        "confidence": 0.8,
    },
    # The forecast already needs a significant fall over 6 h of data; holding for 30 min
    # more (three forecast runs) keeps one noisy fit from alerting.
    "for_s": 1_800.0,
    "severity": "warning",
    "annotations": {
        "title": "Memory leak on {{ labels.device }}: available memory falling steadily for 6 h",
        "description": "{{ annotations.forecast }}",
    },
}

CPU_ANOMALY: dict[str, Any] = {
    # Not in the requested pack; an example of the anomaly kind (disabled by default).
    "key": "cpu-anomaly",
    "name": "Unusual CPU use",
    "enabled": False,
    "condition": {
        "kind": "anomaly",
        "signal": "cpu",  # a derived signal; or "metric" + "matchers" for stored series
        "level": 0.5,  # raw_score at or above (0.5 = the detector's alarm level)
    },
    "for_s": 600.0,
    "severity": "info",
    "annotations": {"title": "CPU on {{ labels.device }} outside its usual band for 10 min"},
}

PACK_ADDITIONS: tuple[dict[str, Any], ...] = (FILESYSTEM_PREDICTED_FULL, MEMORY_LEAK)
