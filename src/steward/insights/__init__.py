"""Insights: the intelligence library (``steward.intel``) applied to stored metrics.

* ``scoring``: the worker job feeding every stored series to a per-series
  ``StreamDetector`` (state in ``DetectorState``), writing anomaly rates and expected bands
  back into the time-series store;
* ``forecasting``: time until a filesystem or the memory of a device runs out
  (``Forecast`` rows);
* ``services``: the functions other apps call (the alerts app's ``anomaly`` and
  ``forecast`` conditions); ``api``: ``/api/v1/devices/{id}/forecasts`` and ``/anomalies``.

docs/intelligence.md explains the choices and their measured cost.
"""
