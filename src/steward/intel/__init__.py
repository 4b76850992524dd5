"""Pure detection library: streaming anomaly detection and time-to-threshold forecasts.

Plain Python (standard library only): no Django and no imports from other steward packages,
so workers, the CLI and tests can use it directly.
"""

from steward.intel.detect_csv import CsvFormatError, detect_csv
from steward.intel.detector import PATTERNS, StreamDetector, Verdict
from steward.intel.forecast import Forecast, ForecastStatus, time_to_threshold

__all__ = [
    "PATTERNS",
    "CsvFormatError",
    "Forecast",
    "ForecastStatus",
    "StreamDetector",
    "Verdict",
    "detect_csv",
    "time_to_threshold",
]
