"""Metrics ingest: agent batches, InfluxDB line protocol, Prometheus remote write, scrapes.

Everything here turns input into ``steward.tsdb.types.Sample`` batches for ``Store.append``
(through ``steward.metrics.store.get_store()``); queries live in ``prom_api.py``.
"""
