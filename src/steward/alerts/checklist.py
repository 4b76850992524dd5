"""Which checks a ``status`` filter keeps: one definition for the console's checks list,
``GET /api/v1/checks``, ``steward checks list`` and the dashboard's "Failing checks".

``failing`` is what needs a technician: enabled checks whose hard state is critical or
warning, except those of a revoked device (it no longer reports, so they would never
recover). The other values match the stored hard state as it is, like the list's "State"
column; ``pending`` includes a check without any state yet (saved, never run).
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from steward.alerts.models import CheckDefinition, CheckStatus

# A check's hard state: ok/warning/critical/unknown from results, pending before the first.
STATUSES = ("critical", "warning", "unknown", "ok", "pending")
# A check needs attention while its hard state is one of these (soft states are still
# retrying; "unknown" and "pending" say nothing about the target).
FAILING = ("critical", "warning")
FILTERS = ("failing", *STATUSES)


def condition(model: type, status: str) -> Q:
    """The ``status`` filter as a condition on ``CheckDefinition`` or ``CheckStatus`` rows.

    Raises ``ValueError`` for a value not in ``FILTERS``.
    """
    if status not in FILTERS:
        raise ValueError(f"status: expected one of {', '.join(FILTERS)}")
    if model is CheckDefinition:
        definition, state = "", "status__"
    elif model is CheckStatus:
        definition, state = "definition__", ""
    else:
        raise TypeError(f"not a check model: {model!r}")
    if status == "failing":
        return Q(**{f"{definition}enabled": True, f"{state}status__in": FAILING}) & ~Q(
            **{f"{definition}device__revoked_at__isnull": False}
        )
    where = Q(**{f"{state}status": status})
    if status == "pending" and model is CheckDefinition:
        where |= Q(status__isnull=True)
    return where


def with_status(queryset: QuerySet, status: str) -> QuerySet:
    """``queryset`` (of checks or of their states) narrowed to the ``status`` filter."""
    return queryset.filter(condition(queryset.model, status))
