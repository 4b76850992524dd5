"""Limit/offset pages with a total count: ``{"items": [...], "count": N, ...}``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from django.db.models import QuerySet
from ninja import Schema

T = TypeVar("T")
MAX_LIMIT = 500


class Page(Schema, Generic[T]):
    items: list[T]
    count: int
    limit: int
    offset: int


def paginate(queryset: QuerySet, limit: int, offset: int, render: Callable) -> dict:
    limit = max(1, min(limit, MAX_LIMIT))
    offset = max(0, offset)
    return {
        "items": [render(obj) for obj in queryset[offset : offset + limit]],
        "count": queryset.count(),
        "limit": limit,
        "offset": offset,
    }
