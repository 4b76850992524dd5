"""The engine's typed errors; the HTTP layer maps them to Prometheus' error types."""

from __future__ import annotations


class QueryError(Exception):
    """The query cannot be parsed or evaluated (Prometheus' ``bad_data``/``execution``).

    ``execution`` is true for errors found while evaluating (duplicate series in a match,
    for instance), false for errors in the query text.
    """

    def __init__(self, message: str, *, execution: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.execution = execution


class UnsupportedQuery(QueryError):
    """Valid PromQL that Steward's engine does not evaluate; ``construct`` names the part."""

    def __init__(self, construct: str, detail: str = "") -> None:
        message = f"unsupported PromQL construct: {construct}"
        if detail:
            message += f" ({detail})"
        super().__init__(message)
        self.construct = construct
