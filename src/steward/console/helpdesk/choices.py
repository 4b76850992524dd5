"""Choices for the help desk forms and filters: technicians, members, queues, categories.

Everything is read through the console's scoping (``in_current_org``), so a select never
offers another organization's people or queues; the services check again on submit.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest

from steward.console.common import in_current_org, principal
from steward.helpdesk.models import Category, Queue
from steward.helpdesk.models.tickets import Priority, Status
from steward.tenancy.models import Membership
from steward.tenancy.roles import Capability, Role
from steward.tenancy.scoping import scoped

WORKING_ROLES = (Role.TECHNICIAN, Role.ADMIN, Role.OWNER)

STATUS_CHOICES = [(s.value, s.value.replace("_", " ").capitalize()) for s in Status]
PRIORITY_CHOICES = [
    (Priority.P1.value, "P1 · Critical"),
    (Priority.P2.value, "P2 · High"),
    (Priority.P3.value, "P3 · Medium"),
    (Priority.P4.value, "P4 · Low"),
]
LEVEL_CHOICES = [("high", "High"), ("medium", "Medium"), ("low", "Low")]


@dataclass(frozen=True)
class Person:
    id: int
    label: str
    organization_id: int


def _scope(request: HttpRequest, qs, organization_id: int | None, capability=Capability.VIEW):
    """The switcher's organizations, or exactly ``organization_id`` (a ticket's own, which
    a page shows whatever the switcher says)."""
    if organization_id is None:
        return in_current_org(request, qs, capability)
    return scoped(qs, principal(request), capability).filter(organization_id=organization_id)


def _label(membership: Membership, several_orgs: bool) -> str:
    name = membership.user.display_name
    return f"{name} ({membership.organization.name})" if several_orgs else name


def people(
    request: HttpRequest,
    roles: tuple[Role, ...] | None = None,
    organization_id: int | None = None,
    capability: Capability = Capability.VIEW,
) -> list[Person]:
    """Members of the user's organizations (narrowed by the switcher), by name."""
    qs = _scope(
        request,
        Membership.objects.select_related("user", "organization"),
        organization_id,
        capability,
    ).filter(user__is_active=True)
    if roles is not None:
        qs = qs.filter(role__in=roles)
    rows = list(qs.order_by("user__name", "user__email"))
    several = len({m.organization_id for m in rows}) > 1
    return [Person(m.user_id, _label(m, several), m.organization_id) for m in rows]


def technicians(request: HttpRequest, organization_id: int | None = None) -> list[Person]:
    """Who can be assigned a ticket: technicians, admins and owners."""
    return people(request, WORKING_ROLES, organization_id)


def queues(request: HttpRequest, organization_id: int | None = None):
    qs = Queue.objects.select_related("organization")
    return _scope(request, qs, organization_id).order_by("name", "organization__name")


def categories(request: HttpRequest, organization_id: int | None = None):
    qs = Category.objects.select_related("organization")
    return _scope(request, qs, organization_id).order_by("name", "organization__name")
