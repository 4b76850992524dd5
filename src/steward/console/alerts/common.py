"""What the alerts pages share: who may see them, the engine call behind every operator
action, and saving a configuration item through the API's own validation.

Alerts pages are staff pages: members with VIEW somewhere (viewer and up). A requester or
a person without membership gets a 404, as for any page they cannot know about.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse

from steward.alerting import AlertingError
from steward.alerts import runtime
from steward.alerts.api import config as config_api
from steward.alerts.models import Alert
from steward.api.errors import ApiError
from steward.console.common import console_view, get_or_404, principal
from steward.tenancy.roles import Capability
from steward.tenancy.scoping import Forbidden, NotFound


def alerts_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """``console_view`` for the alerts pages: 404 unless the user holds VIEW somewhere."""

    @console_view
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if principal(request).organization_ids(Capability.VIEW) == []:
            raise Http404
        try:
            return view(request, *args, **kwargs)
        except NotFound:
            raise Http404 from None

    return wrapper


def get_object(
    request: HttpRequest, queryset: QuerySet, capability: Capability = Capability.VIEW, **lookup
) -> Any:
    """One object of the caller's organizations. Not visible (another tenant, or a role
    without VIEW such as a requester): 404. Visible but the capability is missing: 403."""
    obj = get_or_404(request, queryset, Capability.VIEW, **lookup)
    if capability is not Capability.VIEW:
        principal(request).require(capability, obj.organization_id)
    return obj


def can(request: HttpRequest, capability: Capability, organization_id: int | None = None) -> bool:
    who = principal(request)
    if organization_id is not None:
        return who.can(capability, organization_id)
    return who.organization_ids(capability) != []


class ActionRefused(Exception):
    """The engine refused an operator action (the alert is not in a state that allows it)."""


# The operator actions, exactly as the API calls the engine (steward.alerts.api.alerts):
# each is (engine, fingerprint, who, now, **arguments) -> actions.
OPERATIONS: dict[str, Callable[..., Any]] = {
    "ack": lambda e, fp, who, now, note="", **_: e.acknowledge(fp, who, now, note),
    "unack": lambda e, fp, who, now, **_: e.unacknowledge(fp, who, now),
    "snooze": lambda e, fp, who, now, until=0.0, **_: e.snooze(fp, until, who, now),
    "unsnooze": lambda e, fp, who, now, **_: e.unsnooze(fp, who, now),
    "mute": lambda e, fp, who, now, **_: e.mute_until_resolved(fp, who, now),
    "unmute": lambda e, fp, who, now, **_: e.unmute(fp, who, now),
}


def operate(request: HttpRequest, alert: Alert, op: str, **arguments: Any) -> None:
    """Run one operator action through the organization's engine (its state is the source
    of truth; the Alert row and the timeline follow from the recorded transition)."""
    principal(request).require(Capability.OPERATE, alert.organization_id)
    who = principal(request).user.email
    call = OPERATIONS[op]
    try:
        runtime.run(
            alert.organization_id,
            lambda engine, now: call(engine, alert.fingerprint, who, now, **arguments),
        )
    except AlertingError as exc:
        raise ActionRefused(str(exc)) from None


class SaveFailed(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field, message


def route(key: str) -> config_api.Route:
    return next(r for r in config_api.ROUTES if r.key == key)


def save_item(key: str, organization_id: int, spec: dict[str, Any], obj: Any = None) -> Any:
    """Create or update one monitoring item exactly as ``POST``/``PATCH /api/v1/<kind>``
    do (``steward.alerts.specs`` validation, name conflicts, config version bump).

    Raises :class:`SaveFailed` naming the spec field (``interval``, ``steps[0].after``)
    or ``""`` when the error concerns the whole item.
    """
    try:
        return config_api._save(route(key), organization_id, spec, obj)
    except ApiError as exc:
        field, sep, message = exc.detail.partition(": ")
        if exc.status == 409 or not sep:
            return _raise("name" if exc.status == 409 else "", exc.detail)
        return _raise(field, message)


def _raise(field: str, message: str) -> Any:
    raise SaveFailed(field, message[:1].upper() + message[1:])


def refused_text(exc: Exception) -> str:
    text = str(exc) or "That is not allowed."
    return text[:1].upper() + text[1:]


def forbidden(request: HttpRequest, organization_id: int, capability: Capability) -> None:
    if not principal(request).can(capability, organization_id):
        raise Forbidden(f"your role cannot do this ({capability.value})")
