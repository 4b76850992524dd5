"""Who sees which tickets, replies and articles: the one definition every front door uses.

Staff (any role with VIEW: viewer and up) see every ticket of their organizations, built
with ``tenancy.scoping.scoped``. Requesters (a role without VIEW, or a token capped at
requester) see the tickets they requested, or every ticket of the organization when its
help desk setting ``requesters_see_org_tickets`` is on; never internal notes or time
entries. Other organizations' objects are absent (``NotFound``), as everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.db.models import Q, QuerySet

from steward.helpdesk.models import Article, HelpdeskSettings, Reply, SearchDocument, Ticket
from steward.tenancy.roles import Capability, grants
from steward.tenancy.scoping import NotFound, Principal, scoped

if TYPE_CHECKING:
    from steward.helpdesk.models import TimeEntry


def requester_organizations(principal: Principal) -> list[int]:
    """Organizations where the principal is a member without VIEW (a requester)."""
    if principal.organization_ids(Capability.VIEW) is None:
        return []
    return [org for org, role in principal.roles.items() if not grants(role, Capability.VIEW)]


def member_organizations(principal: Principal) -> list[int] | None:
    """Organizations where the principal has any role; ``None`` = all (superuser)."""
    if principal.organization_ids(Capability.VIEW) is None:
        return None
    return list(principal.roles)


def is_staff_in(principal: Principal, organization_id: int) -> bool:
    """Staff see internal notes, time entries, drafts: VIEW in the organization."""
    return principal.can(Capability.VIEW, organization_id)


def _requester_rule(principal: Principal, orgs: list[int]) -> Q:
    """Tickets a requester of ``orgs`` reads: their own, or all where the organization
    lets requesters see each other's."""
    open_orgs = list(
        HelpdeskSettings.objects.filter(
            organization_id__in=orgs, requesters_see_org_tickets=True
        ).values_list("organization_id", flat=True)
    )
    own = Q(organization_id__in=orgs, requester_id=principal.user.pk)
    return own | Q(organization_id__in=open_orgs)


def visible_tickets(
    principal: Principal, queryset: QuerySet[Ticket] | None = None
) -> QuerySet[Ticket]:
    qs = queryset if queryset is not None else Ticket.objects.all()
    staff = scoped(qs, principal, Capability.VIEW)
    orgs = requester_organizations(principal)
    if not orgs:
        return staff
    return staff | qs.filter(_requester_rule(principal, orgs))


def get_ticket(
    principal: Principal,
    ticket_id: int,
    capability: Capability | None = None,
    queryset: QuerySet[Ticket] | None = None,
) -> Ticket:
    """One visible ticket, or ``NotFound``; with ``capability``, ``Forbidden`` if lacking."""
    try:
        ticket = visible_tickets(principal, queryset).get(pk=ticket_id)
    except (Ticket.DoesNotExist, ValueError, TypeError):
        raise NotFound from None
    if capability is not None:
        principal.require(capability, ticket.organization_id)
    return ticket


def visible_replies(principal: Principal, ticket: Ticket) -> QuerySet[Reply]:
    qs = Reply.objects.filter(ticket=ticket)
    if not is_staff_in(principal, ticket.organization_id):
        qs = qs.filter(public=True)
    return qs


def visible_time_entries(principal: Principal, ticket: Ticket) -> QuerySet[TimeEntry]:
    from steward.helpdesk.models import TimeEntry

    if not is_staff_in(principal, ticket.organization_id):
        return TimeEntry.objects.none()
    return TimeEntry.objects.filter(ticket=ticket)


def visible_articles(
    principal: Principal, queryset: QuerySet[Article] | None = None
) -> QuerySet[Article]:
    """Staff see all articles (drafts too); requesters published public ones."""
    qs = queryset if queryset is not None else Article.objects.all()
    staff = scoped(qs, principal, Capability.VIEW)
    orgs = requester_organizations(principal)
    if not orgs:
        return staff
    return staff | qs.filter(organization_id__in=orgs, published=True, public=True)


def visible_documents(
    principal: Principal, kinds: Iterable[str] = ("ticket", "reply", "article")
) -> QuerySet[SearchDocument]:
    """Search documents the principal may read, by the rules above.

    Staff's part is a condition on the document's own (indexed) organization, so full-text
    search can check it on every match without collecting the ids of all visible tickets;
    a requester's part goes through the (few) tickets they may read, by index.

    Staff: every document of their organizations (internal notes and drafts too).
    Requesters: the tickets they may read and those tickets' public replies; articles
    that are published and public (the document's ``public`` is ``public and published``).
    """
    kinds = set(kinds)
    ticket_kinds = sorted(kinds & {"ticket", "reply"})
    docs = SearchDocument.objects.filter(kind__in=sorted(kinds & {"ticket", "reply", "article"}))
    staff = scoped(docs, principal, Capability.VIEW)
    orgs = requester_organizations(principal)
    if not orgs:
        return staff
    readable = Q(pk__in=[])
    if ticket_kinds:
        public = Q(kind="ticket") | Q(public=True)
        tickets = Ticket.objects.filter(_requester_rule(principal, orgs)).values("pk")
        readable |= Q(kind__in=ticket_kinds, ticket_id__in=tickets) & public
    if "article" in kinds:
        readable |= Q(kind="article", organization_id__in=orgs, public=True)
    return staff | docs.filter(readable)


def may_reply_publicly(principal: Principal, ticket: Ticket) -> bool:
    """Technicians and up; the requester; followers; requesters allowed to see the ticket."""
    if principal.can(Capability.OPERATE, ticket.organization_id):
        return True
    if ticket.requester_id == principal.user.pk:
        return True
    if ticket.followers.filter(pk=principal.user.pk).exists():
        return True
    # Other requesters of the organization only where the organization lets them see
    # each other's tickets: the same rule as for reading.
    return (
        ticket.organization_id in requester_organizations(principal)
        and visible_tickets(principal).filter(pk=ticket.pk).exists()
    )
