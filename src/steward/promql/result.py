"""What an evaluation returns: Prometheus' four result types, as plain data."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class ResultType(StrEnum):
    VECTOR = "vector"
    MATRIX = "matrix"
    SCALAR = "scalar"
    STRING = "string"


@dataclass
class Series:
    """One labelled series of points; an instant vector's element has exactly one point."""

    labels: dict[str, str]
    timestamps: list[int]  # ms since the epoch
    values: list[float]


@dataclass
class Result:
    """The value of a query.

    ``series`` holds the elements of a vector (one point each, at the evaluation time) or
    the series of a matrix; ``scalar``/``string`` hold the value of those types, evaluated
    at ``time_ms`` (instant queries only; a range query always returns a matrix).
    """

    type: ResultType
    series: list[Series] = field(default_factory=list)
    scalar: float | None = None
    string: str | None = None
    time_ms: int | None = None
