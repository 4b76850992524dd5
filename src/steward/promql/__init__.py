"""Steward's PromQL engine: a documented subset of PromQL over any ``Store`` (no Django).

    from steward.promql import evaluate_instant, evaluate_range
    result = evaluate_range('avg by (instance) (rate(node_cpu_seconds_total[5m]))',
                            start_ms, end_ms, 60_000, store, org_ids=[1])

The supported subset and its differences from Prometheus are listed in ``SUPPORTED.md``
beside this file. Parse errors raise ``QueryError`` with the parser's message; valid
PromQL outside the subset raises ``UnsupportedQuery`` naming the construct.
"""

from steward.promql.engine import DEFAULT_LOOKBACK_MS, evaluate_instant, evaluate_range, parse
from steward.promql.errors import QueryError, UnsupportedQuery
from steward.promql.result import Result, ResultType, Series

__all__ = [
    "DEFAULT_LOOKBACK_MS",
    "QueryError",
    "Result",
    "ResultType",
    "Series",
    "UnsupportedQuery",
    "evaluate_instant",
    "evaluate_range",
    "parse",
]
